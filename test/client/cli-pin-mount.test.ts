import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readlinkSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { PinResponseSchema } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { LxnsdClient } from "../../client";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** Runs the CLI in-process against a recording fake client. */
async function fakeCli(argv: string[]) {
  const calls: { method: string; request: unknown }[] = [];
  const client = new Proxy({}, {
    get: (_target, method: string) => {
      if (method === "disconnect") return () => undefined;
      return async (request: unknown) => {
        calls.push({ method, request });
        return method === "pin" ? create(PinResponseSchema, { path: "/run/lxnsd/ns/web" }) : {};
      };
    },
  }) as unknown as LxnsdClient;
  return { ...(await captureCli(argv, { connect: () => client })), calls };
}

const mntRef = (source: unknown) => create(NamespaceRefSchema, { type: NamespaceType.MNT, source: source as never });

describe("lxnsctl pin, unpin, mount bind: flags → requests", () => {
  it("pin -t 42 -n web", async () => {
    const result = await fakeCli(["pin", "-t", "42", "-n", "web"]);
    expect(result).toMatchObject({ code: 0, stdout: "/run/lxnsd/ns/web\n", stderr: "" });
    expect(result.calls).toEqual([{ method: "pin", request: { ref: create(NamespaceRefSchema, { type: NamespaceType.NET, source: { case: "pid", value: 42 } }), name: "web" } }]);
  });

  it("pin --handle h-1 web", async () => {
    const result = await fakeCli(["pin", "--handle", "h-1", "web"]);
    expect(result.calls[0].request).toEqual({ ref: create(NamespaceRefSchema, { source: { case: "handle", value: "h-1" } }), name: "web" });
  });

  it("pin without a name or a target is a usage error", async () => {
    expect((await fakeCli(["pin", "-t", "42", "-n"])).code).toBe(2);
    expect((await fakeCli(["pin", "web"])).code).toBe(2);
  });

  it("unpin web", async () => {
    const result = await fakeCli(["unpin", "web"]);
    expect(result).toMatchObject({ code: 0, stdout: "" });
    expect(result.calls).toEqual([{ method: "unpin", request: { name: "web" } }]);
  });

  it.each([
    [["/src", "-t", "42", "/dest"], { source: { case: "pid", value: 42 } }, false, false, false],
    [["/src", "/dest", "--handle", "h-1", "--recursive", "--read-only"], { source: { case: "handle", value: "h-1" } }, true, true, false],
    [["-r", "--path", "/run/lxnsd/ns/m", "/src", "/dest", "--mkdir"], { source: { case: "path", value: "/run/lxnsd/ns/m" } }, true, false, true],
  ] as const)("mount bind %j", async (flags, ref, recursive, readOnly, createTargetPath) => {
    const result = await fakeCli(["mount", "bind", ...flags]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.calls).toEqual([
      { method: "bindMount", request: { source: "/src", target: mntRef(ref.source), targetPath: "/dest", recursive, readOnly, createTargetPath } },
    ]);
  });

  it("mount bind needs one target and both paths", async () => {
    expect((await fakeCli(["mount", "bind", "/src", "/dest"])).code).toBe(2);
    expect((await fakeCli(["mount", "bind", "/src", "-t", "1", "--handle", "h", "/dest"])).code).toBe(2);
    expect((await fakeCli(["mount", "bind", "/src", "-t", "1"])).code).toBe(2);
  });
});

describeRoot("lxnsctl pin, unpin, mount bind against a daemon", () => {
  let lxnsd: TestDaemon;
  let stateDir: string;
  let dir: string;
  let target: Target | undefined;

  const cli = (...argv: string[]) => captureCli(["--address", lxnsd.address, ...argv]);

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "lxnsd-state-"));
    lxnsd = await startDaemon({ stateDir, netnsDir: "" });
  });
  afterAll(async () => {
    await lxnsd.stop();
    const nsDir = path.join(stateDir, "ns");
    if (readFileSync("/proc/self/mountinfo", "utf8").includes(` ${nsDir} `)) execFileSync("umount", ["--recursive", "--lazy", nsDir]);
    rmSync(stateDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await target?.kill();
    target = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("pin then unpin a process's uts namespace", async () => {
    target = await startTarget(["unshare", "--uts"]);
    const pinned = await cli("pin", "-t", String(target.pid), "-u", "cli-uts");
    expect(pinned).toEqual({ code: 0, stdout: `${path.join(stateDir, "ns", "cli-uts")}\n`, stderr: "" });
    const uts = readlinkSync(`/proc/${target.pid}/ns/uts`);
    await target.kill();
    target = undefined;
    expect(execFileSync("nsenter", [`--uts=${pinned.stdout.trim()}`, "readlink", "/proc/self/ns/uts"], { encoding: "utf8" }).trim()).toBe(uts);
    expect(await cli("unpin", "cli-uts")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(existsSync(pinned.stdout.trim())).toBe(false);
    const again = await cli("unpin", "cli-uts");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^lxnsctl: NOT_FOUND/);
  });

  it("mount bind SRC -t PID DEST --read-only", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bm-"));
    mkdirSync(path.join(dir, "secret"));
    writeFileSync(path.join(dir, "secret", "file"), "from the host\n");
    target = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs none ${dir} && mkdir ${dir}/dest && exec "$@"`, "sh"]);
    expect(nsInode(target.pid, "mnt")).not.toBe(nsInode("self", "mnt"));
    const result = await cli("mount", "bind", `${dir}/secret`, "-t", String(target.pid), `${dir}/dest`, "--read-only");
    expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(execFileSync("nsenter", ["-t", String(target.pid), "-m", "cat", `${dir}/dest/file`], { encoding: "utf8" })).toBe("from the host\n");
  });
});
