import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../client";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BindMountRequestSchema } from "../../api/gen/lxnsd/v1/mount_service_pb";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

type Request = MessageInitShape<typeof BindMountRequestSchema>;
const mountinfo = (pid: number | "self"): string => readFileSync(`/proc/${pid}/mountinfo`, "utf8");

describeRoot("BindMount", () => {
  let lxnsd: TestDaemon;
  let dir: string;
  let target: Target | undefined;
  const pidRef = (pid: number) => ({ type: NamespaceType.MNT, source: { case: "pid" as const, value: pid } });
  /** A target whose mount namespace has a private tmpfs over `dir`, with `dir/dest` in it. */
  const startHidden = (prefix: string[] = []) =>
    startTarget([...prefix, "unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs none ${dir} && mkdir ${dir}/dest && exec "$@"`, "sh"]);
  const inTarget = (script: string) => execFileSync("nsenter", ["-t", String(target!.pid), "-m", "-U", "--preserve-credentials", "sh", "-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const inTargetMnt = (script: string) => execFileSync("nsenter", ["-t", String(target!.pid), "-m", "sh", "-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(() => lxnsd.stop());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bm-"));
    mkdirSync(path.join(dir, "secret"));
    writeFileSync(path.join(dir, "secret", "file"), "secret content\n");
  });
  afterEach(async () => {
    await target?.kill();
    target = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes a host directory visible in the target's mount namespace only", async () => {
    target = await startHidden();
    const hostBefore = mountinfo("self");
    expect(() => inTargetMnt(`cat ${dir}/secret/file`)).toThrow();
    await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest` });
    expect(inTargetMnt(`cat ${dir}/dest/file`)).toBe("secret content\n");
    inTargetMnt(`echo x > ${dir}/dest/new`);
    expect(readFileSync(`${dir}/secret/new`, "utf8")).toBe("x\n");
    expect(mountinfo("self")).toBe(hostBefore);
  });

  it("read_only refuses writes with EROFS", async () => {
    target = await startHidden();
    await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest`, readOnly: true });
    expect(inTargetMnt(`cat ${dir}/dest/file`)).toBe("secret content\n");
    expect(() => inTargetMnt(`echo x > ${dir}/dest/new`)).toThrow(/Read-only file system/);
  });

  it("recursive carries the mounts below the source", async () => {
    mkdirSync(path.join(dir, "secret", "sub"));
    execFileSync("mount", ["-t", "tmpfs", "none", path.join(dir, "secret", "sub")]);
    try {
      writeFileSync(path.join(dir, "secret", "sub", "inner"), "inner\n");
      target = await startHidden();
      await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest`, recursive: true, readOnly: true });
      expect(inTargetMnt(`cat ${dir}/dest/sub/inner`)).toBe("inner\n");
      expect(() => inTargetMnt(`echo x > ${dir}/dest/sub/new`)).toThrow(/Read-only file system/);
    } finally {
      execFileSync("umount", ["--lazy", path.join(dir, "secret", "sub")]);
    }
  });

  it("works for a target in a user namespace of its own, and by handle", async () => {
    target = await startHidden(["unshare", "--user", "--map-root-user"]);
    const { handle } = await lxnsd.client.open({ ref: pidRef(target.pid) });
    try {
      await lxnsd.client.bindMount({ source: `${dir}/secret`, target: { source: { case: "handle", value: handle!.id } }, targetPath: `${dir}/dest` });
    } finally {
      await lxnsd.client.close({ handle: handle!.id });
    }
    expect(inTarget(`cat ${dir}/dest/file`)).toBe("secret content\n");
  });

  it("create_target_path makes a missing directory or file target, as the source is", async () => {
    target = await startHidden();
    expect(() => inTargetMnt(`ls -d ${dir}/newdir`)).toThrow();
    await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/newdir`, createTargetPath: true });
    expect(inTargetMnt(`cat ${dir}/newdir/file`)).toBe("secret content\n");
    await lxnsd.client.bindMount({ source: `${dir}/secret/file`, target: pidRef(target.pid), targetPath: `${dir}/newfile`, createTargetPath: true });
    expect(inTargetMnt(`cat ${dir}/newfile`)).toBe("secret content\n");
    // An existing target is used as it is.
    await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest`, createTargetPath: true });
    expect(inTargetMnt(`cat ${dir}/dest/file`)).toBe("secret content\n");
  });

  it("create_target_path under a read-only mount is FAILED_PRECONDITION EROFS (was INTERNAL)", async () => {
    target = await startHidden();
    await lxnsd.client.bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest`, readOnly: true });
    const before = mountinfo(target.pid);
    const err = await lxnsd.client
      .bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/dest/new`, createTargetPath: true })
      .catch((e) => e);
    expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, errno: "EROFS", step: "create target" });
    expect(mountinfo(target.pid)).toBe(before);
  });

  it("create_target_path with a missing parent is NOT_FOUND and creates nothing", async () => {
    target = await startHidden();
    const before = mountinfo(target.pid);
    const err = await lxnsd.client
      .bindMount({ source: `${dir}/secret`, target: pidRef(target.pid), targetPath: `${dir}/no/such`, createTargetPath: true })
      .catch((e) => e);
    expect(err).toMatchObject({ code: status.NOT_FOUND, errno: "ENOENT", step: "create target" });
    expect(inTargetMnt(`ls ${dir}`).trim().split("\n")).toEqual(["dest"]);
    expect(mountinfo(target.pid)).toBe(before);
  });

  it("refuses bad requests with exact statuses and mounts nothing", async () => {
    target = await startHidden();
    const pid = target.pid;
    const before = mountinfo(pid);
    const hostBefore = mountinfo("self");
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.NET] });
    const ok: Request = { source: `${dir}/secret`, target: pidRef(pid), targetPath: `${dir}/dest` };
    const cases: [string, Request, status][] = [
      ["relative source", { ...ok, source: "secret" }, status.INVALID_ARGUMENT],
      ["unnormalized source", { ...ok, source: `${dir}/../${path.basename(dir)}/secret` }, status.INVALID_ARGUMENT],
      ["relative target_path", { ...ok, targetPath: "dest" }, status.INVALID_ARGUMENT],
      ["no target", { ...ok, target: undefined }, status.INVALID_ARGUMENT],
      ["missing source", { ...ok, source: `${dir}/missing` }, status.NOT_FOUND],
      ["missing target_path", { ...ok, targetPath: `${dir}/missing` }, status.NOT_FOUND],
      ["missing pid", { ...ok, target: pidRef(0x7ffffff0) }, status.NOT_FOUND],
      ["pid 0", { ...ok, target: pidRef(0) }, status.INVALID_ARGUMENT],
      ["unknown handle", { ...ok, target: { source: { case: "handle", value: "nope" } } }, status.NOT_FOUND],
      ["a net namespace handle", { ...ok, target: { source: { case: "handle", value: handles[0].id } } }, status.FAILED_PRECONDITION],
      ["a net type for a pid", { ...ok, target: { type: NamespaceType.NET, source: { case: "pid", value: pid } } }, status.FAILED_PRECONDITION],
    ];
    try {
      for (const [what, request, code] of cases) {
        await expect(lxnsd.client.bindMount(request).then(() => what)).rejects.toMatchObject({ code });
      }
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
    expect(mountinfo(pid)).toBe(before);
    expect(mountinfo("self")).toBe(hostBefore);
  });

  it("--mount-source-root confines sources: outside is INVALID_ARGUMENT and mounts nothing, inside works", async () => {
    target = await startHidden();
    const confined = await startDaemon({ mountSourceRoots: [path.join(dir, "secret")] });
    try {
      const before = mountinfo(target.pid);
      const outside = { source: "/etc", target: pidRef(target.pid), targetPath: `${dir}/dest` };
      await expect(confined.client.bindMount(outside)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringContaining("/etc is outside the allowed roots") });
      mkdirSync(`${dir}/secret-not`);
      symlinkSync("/etc", `${dir}/secret/escape`);
      for (const source of [`${dir}/secret-not`, `${dir}/secret/escape`]) {
        await expect(confined.client.bindMount({ ...outside, source })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
      }
      expect(mountinfo(target.pid)).toBe(before);
      await confined.client.bindMount({ ...outside, source: `${dir}/secret` });
      expect(inTargetMnt(`cat ${dir}/dest/file`)).toBe("secret content\n");
    } finally {
      await confined.stop();
    }
  });

  it("a --mount-source-root written with a trailing slash confines the same way (it used to refuse every source)", async () => {
    target = await startHidden();
    mkdirSync(`${dir}/secret/sub`);
    writeFileSync(`${dir}/secret/sub/file`, "sub content\n");
    const confined = await startDaemon({ mountSourceRoots: [`${dir}/secret/`] });
    try {
      const inside = { source: `${dir}/secret/sub`, target: pidRef(target.pid), targetPath: `${dir}/dest` };
      await expect(confined.client.bindMount({ ...inside, source: "/etc" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringContaining("/etc is outside the allowed roots") });
      await confined.client.bindMount(inside);
      expect(inTargetMnt(`cat ${dir}/dest/file`)).toBe("sub content\n");
    } finally {
      await confined.stop();
    }
  });
});
