// The addon's mount operations against the real kernel: pins (bind mounts
// of nsfs files), detached trees (open_tree) and their move_mount in a
// per-request child joined to another mount namespace.
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

const mountinfo = (pid: number | "self"): string => readFileSync(`/proc/${pid}/mountinfo`, "utf8");

describeRoot("native mount operations", () => {
  let dir: string;
  let target: Target | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-mnt-"));
  });
  afterEach(async () => {
    await target?.kill();
    target = undefined;
    try {
      execFileSync("umount", ["--recursive", "--lazy", dir], { stdio: "ignore" });
    } catch {
      // not a mount point
    }
    rmSync(dir, { recursive: true, force: true });
    expect(native.runningChildren()).toBe(0);
  });

  it("pins a namespace fd on a file and unmounts it", () => {
    const file = path.join(dir, "pin");
    closeSync(openSync(file, "wx", 0o444));
    const fd = native.openPath("/proc/self/ns/net");
    try {
      native.bindMountPath(`/proc/self/fd/${fd}`, file);
    } finally {
      native.close(fd);
    }
    expect(statSync(file).ino).toBe(statSync("/proc/self/ns/net").ino);
    expect(mountinfo("self")).toContain(` ${file} `);
    native.unmountDetach(file);
    expect(mountinfo("self")).not.toContain(` ${file} `);
    expect(() => native.unmountDetach(file)).toThrow(expect.objectContaining({ code: "EINVAL", syscall: "umount2" }));
  });

  it("makes a directory a shared mount point, once", () => {
    native.makeSharedMountPoint(dir);
    native.makeSharedMountPoint(dir);
    const lines = mountinfo("self").split("\n").filter((line) => line.split(" ")[4] === dir);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ shared:\d+/);
  });

  it("moves a detached tree into another mount namespace", async () => {
    mkdirSync(path.join(dir, "secret"));
    writeFileSync(path.join(dir, "secret", "file"), "hello\n");
    target = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs none ${dir} && mkdir ${dir}/dest && exec "$@"`, "sh"]);
    const tree = native.openTree(path.join(dir, "secret"), { readOnly: true });
    const mnt = native.openPath(`/proc/${target.pid}/ns/mnt`);
    try {
      await native.runChild({ join: [{ fd: mnt, nstype: native.CLONE_NEWNS }], moveMount: { fd: tree, targetPath: `${dir}/dest` } });
    } finally {
      native.close(mnt);
      native.close(tree);
    }
    expect(execFileSync("nsenter", ["-t", String(target.pid), "-m", "cat", `${dir}/dest/file`], { encoding: "utf8" })).toBe("hello\n");
    expect(mountinfo("self")).not.toContain(`${dir}/dest`);
    expect(() => execFileSync("nsenter", ["-t", String(target!.pid), "-m", "sh", "-c", `echo x > ${dir}/dest/new`], { stdio: "pipe" })).toThrow(/Read-only/);
  });

  it("reports open_tree and move_mount failures", async () => {
    expect(() => native.openTree(path.join(dir, "missing"))).toThrow(expect.objectContaining({ code: "ENOENT", syscall: "open_tree" }));
    const tree = native.openTree(dir);
    try {
      await expect(native.runChild({ moveMount: { fd: tree, targetPath: `${dir}/nowhere` } })).rejects.toMatchObject({ code: "ENOENT", syscall: "move_mount", step: "move_mount" });
    } finally {
      native.close(tree);
    }
  });
});
