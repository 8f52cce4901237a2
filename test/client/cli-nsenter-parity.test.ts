import { execFile, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, realpathSync, rmdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cgroup2Mount, makeCgroup } from "../helpers/cgroup";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { captureCli } from "../helpers/cli";
import { spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { CLI_MAIN } from "../helpers/cli-bin";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** The compiled CLI (`npm run build`), run as a process of its own in `cwd`. */

describeRoot("lxnsctl exec's working directory, as nsenter leaves it", () => {
  let lxnsd: TestDaemon;
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "--mount", "--net"]);
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), "lxnsctl-cwd-")));
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Not spawnSync: the daemon answers from this process's event loop.
  const run = (file: string, args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(file, args, { cwd: dir, encoding: "utf8" }, (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr })),
    );
  const both = async (flags: string[], program: string[]) => {
    const nsenter = await run("nsenter", ["-t", String(target.pid), ...flags, ...program]);
    const lxnsctl = await run(process.execPath, [CLI_MAIN, "--address", lxnsd.address, "exec", "-t", String(target.pid), ...flags, "--", ...program]);
    return { nsenter: { status: nsenter.status, stdout: nsenter.stdout }, lxnsctl };
  };

  it("-n: the caller's directory (the program stays in our mount namespace)", async () => {
    const { nsenter, lxnsctl } = await both(["-n"], ["pwd"]);
    expect(nsenter).toEqual({ status: 0, stdout: `${dir}\n` });
    expect(lxnsctl).toEqual({ ...nsenter, stderr: "" });
  });

  it("-m -n: / of the target's mount namespace", async () => {
    const { nsenter, lxnsctl } = await both(["-m", "-n"], ["pwd"]);
    expect(nsenter).toEqual({ status: 0, stdout: "/\n" });
    expect(lxnsctl).toEqual({ ...nsenter, stderr: "" });
  });

  it("-w relative: against the caller's directory with -n, against / with -m", async () => {
    expect((await both(["-n", "-w", "."], ["pwd"])).lxnsctl).toEqual({ status: 0, stdout: `${dir}\n`, stderr: "" });
    expect((await both(["-m", "-w", "tmp"], ["pwd"])).lxnsctl).toEqual({ status: 0, stdout: "/tmp\n", stderr: "" });
  });
});

describeRoot("lxnsctl exec: a join that fails after a user namespace was joined names what was tried", () => {
  let daemon: DaemonProcess;
  let dir: string;
  let owner: Target;
  let other: Target;
  let group: ReturnType<typeof makeCgroup> | undefined;
  const rootless = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "-r"];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-unpriv-"));
    chmodSync(dir, 0o777);
    // A daemon without privileges: its first pass cannot join the time namespace either (EPERM in the initial user namespace).
    // Its programs' cgroups go below its own, which it must own (a delegated cgroup, as systemd's Delegate=yes gives).
    group = makeCgroup(`lxnsctl-unpriv-${randomBytes(4).toString("hex")}`);
    const groupDir = path.join(cgroup2Mount(), group.path);
    for (const file of ["", "cgroup.procs", "cgroup.subtree_control"]) chownSync(path.join(groupDir, file), 65534, 65534);
    daemon = spawnDaemon(["--listen", `unix:${path.join(dir, "lxnsd.sock")}`], {
      user: 65534,
      wrapper: ["sh", "-c", `echo $$ > ${groupDir}/cgroup.procs && exec "$@"`, "sh"],
    });
    await daemon.ready;
    owner = await startTarget([...rootless, "--time", "--"]);
    other = await startTarget([...rootless, "--"]);
  });
  afterAll(async () => {
    await owner?.kill();
    await other?.kill();
    await daemon?.stop();
    if (group) {
      const programs = path.join(cgroup2Mount(), group.path, "lxnsd-programs");
      if (existsSync(programs)) rmdirSync(programs);
      group.remove();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("-U of one rootless target with --time=FILE of another: EPERM, exit 1, as nsenter fails, with the message the issue fixes", async () => {
    const userNs = spawnSync("stat", ["-L", "-c", "%i", `/proc/${other.pid}/ns/user`], { encoding: "utf8" }).stdout.trim();
    const nsenter = spawnSync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all", "--", "nsenter", `--user=/proc/${other.pid}/ns/user`, `--time=/proc/${owner.pid}/ns/time`, "true"], { encoding: "utf8" });
    expect(nsenter.status).toBe(1);
    expect(nsenter.stderr).toContain("reassociate to namespace 'ns/time' failed: Operation not permitted");
    const result = await captureCli(["--address", `unix:${path.join(dir, "lxnsd.sock")}`, "exec", "-t", String(other.pid), "-U", `--time=/proc/${owner.pid}/ns/time`, "--", "true"]);
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `lxnsctl: PERMISSION_DENIED: joined user namespace ${userNs}, then setns(time) EPERM: the time namespace is owned by a user namespace the program is not privileged in\n`,
    });
  });
});
