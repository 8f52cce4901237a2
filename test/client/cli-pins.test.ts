import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { HandleSchema, NamespaceInfoSchema, NamespaceRefSchema, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { PinResponseSchema, UnshareResponseSchema } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import type { LxnsdClient } from "../../client";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** Runs the CLI in-process against a recording fake client (exec records its spec and ends at once). */
async function fakeCli(argv: string[]) {
  const calls: { method: string; request: unknown }[] = [];
  const answers: Record<string, unknown> = {
    unshare: create(UnshareResponseSchema, { handles: [create(HandleSchema, { id: "h-new", info: create(NamespaceInfoSchema, { type: NamespaceType.NET, nsId: 9n }) })] }),
    pin: create(PinResponseSchema, { path: "/s/ns/web" }),
    inspect: { info: create(NamespaceInfoSchema, { type: NamespaceType.NET }) },
  };
  const client = new Proxy(
    {},
    {
      get: (_target, method: string) => {
        if (method === "disconnect") return () => undefined;
        if (method === "exec") {
          return (spec: unknown) => {
            calls.push({ method, request: spec });
            return { started: Promise.resolve(1), output: (async function* () {})(), write: async () => undefined, closeStdin: () => undefined, wait: async () => ({ code: 0 }), cancel: () => undefined, signal: () => undefined, resize: () => undefined };
          };
        }
        return async (request: unknown) => {
          calls.push({ method, request });
          return answers[method] ?? {};
        };
      },
    },
  ) as unknown as LxnsdClient;
  return { ...(await captureCli(["--state-dir", "/s", ...argv], { env: {}, connect: () => client })), calls };
}

const pathRef = (value: string, type = NamespaceType.UNSPECIFIED) => create(NamespaceRefSchema, { type, source: { case: "path", value } });
const pidRef = (type: NamespaceType, pid: number) => create(NamespaceRefSchema, { type, source: { case: "pid", value: pid } });

describe("lxnsctl pins, exec --pin and --TYPE=FILE, unshare --pin: flags → requests", () => {
  it("exec --pin NAME joins <state dir>/ns/NAME (its type the daemon's to say)", async () => {
    const result = await fakeCli(["exec", "--pin", "web", "--", "true"]);
    expect(result.stderr).toBe("");
    expect(result.calls.find((call) => call.method === "exec")?.request).toMatchObject({ join: [pathRef("/s/ns/web")] });
  });

  it("exec --net=FILE joins FILE as nsenter --net=FILE does; with -t/-a it replaces the target's net namespace", async () => {
    const one = await fakeCli(["exec", "-t", "42", "-u", "--net=/run/netns/web", "hostname"]);
    expect(one.stderr).toBe("");
    expect(one.calls.find((call) => call.method === "exec")?.request).toMatchObject({ argv: ["hostname"], join: [pidRef(NamespaceType.UTS, 42), pathRef("/run/netns/web", NamespaceType.NET)] });
    const all = await fakeCli(["exec", "-t", "42", "-a", "--mount=/proc/7/ns/mnt", "--", "true"]);
    const joins = (all.calls.find((call) => call.method === "exec")?.request as { join: unknown[] }).join;
    expect(joins).toContainEqual(pathRef("/proc/7/ns/mnt", NamespaceType.MNT));
    expect(joins).not.toContainEqual(pidRef(NamespaceType.MNT, 42));
    // -n without '=' stays a flag: `ip` is the program, as with nsenter.
    const flag = await fakeCli(["exec", "-t", "42", "-n", "ip", "addr"]);
    expect(flag.calls.find((call) => call.method === "exec")?.request).toMatchObject({ argv: ["ip", "addr"], join: [pidRef(NamespaceType.NET, 42)] });
  });

  it.each([
    [["exec", "--net=/etc/hostname", "--", "true"], "--net=/etc/hostname: the daemon joins only /proc/PID/ns/TYPE and pins (NAME directly in /s/ns or /run/netns"],
    [["exec", "--uts=", "--", "true"], "--uts=FILE: the file is empty"],
    [["exec", "--pin", "../x", "--", "true"], '--pin "../x": a pin name is'],
    [["unshare", "-n", "-u", "--pin", "web"], "--pin pins one namespace, and these flags make 2"],
    [["unshare", "-n", "--pin", "web", "--", "true"], "--pin is for held namespaces"],
  ])("%j: exit 2 before any call", async (argv, message) => {
    const result = await fakeCli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`lxnsctl: ${message}`);
    expect(result.calls).toEqual([]);
  });

  it("unshare -n --pin NAME: Unshare, Pin the handle, Close it; prints the pin's path", async () => {
    const result = await fakeCli(["unshare", "-n", "--pin", "web"]);
    expect(result).toMatchObject({ code: 0, stdout: "/s/ns/web\n", stderr: "" });
    expect(result.calls.map((call) => call.method)).toEqual(["unshare", "pin", "close"]);
    expect(result.calls[1].request).toMatchObject({ ref: { source: { case: "handle", value: "h-new" } }, name: "web" });
    expect(result.calls[2].request).toEqual({ handle: "h-new" });
  });
});

describeRoot("lxnsctl pins, exec --pin, unshare --pin against a daemon, side by side with ip netns and nsenter", () => {
  let lxnsd: TestDaemon;
  let stateDir: string;
  const name = `lxnsctl-t-${randomBytes(4).toString("hex")}`;
  let sleeper: Target | undefined;

  const cli = (...argv: string[]) => captureCli(["--address", lxnsd.address, "--state-dir", stateDir, "--netns-dir", "/run/netns", ...argv]);
  const readlink = ["readlink", "/proc/self/ns/net"];

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "lxnsd-state-"));
    lxnsd = await startDaemon({ stateDir, netnsDir: "/run/netns" });
  });
  afterAll(async () => {
    await sleeper?.kill();
    await lxnsd.client.unpin({ name }).catch(() => undefined);
    await lxnsd.stop();
    const nsDir = path.join(stateDir, "ns");
    if (readFileSync("/proc/self/mountinfo", "utf8").includes(` ${nsDir} `)) execFileSync("umount", ["--recursive", "--lazy", nsDir]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("unshare -n --pin NAME makes and pins a net namespace as `ip netns add NAME`: ip netns exec, nsenter --net=FILE and exec --pin/--net=FILE all join it", async () => {
    const made = await cli("unshare", "-n", "--pin", name);
    expect(made).toEqual({ code: 0, stdout: `${path.join(stateDir, "ns", name)}\n`, stderr: "" });
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).toContain(name);
    const ipNetns = execFileSync("ip", ["netns", "exec", name, ...readlink], { encoding: "utf8" });
    expect(ipNetns).not.toBe(`${readlinkSync("/proc/self/ns/net")}\n`);
    expect(execFileSync("nsenter", [`--net=/run/netns/${name}`, ...readlink], { encoding: "utf8" })).toBe(ipNetns);
    expect(await cli("exec", "--pin", name, "--", ...readlink)).toEqual({ code: 0, stdout: ipNetns, stderr: "" });
    expect(await cli("exec", `--net=/run/netns/${name}`, "--", ...readlink)).toEqual({ code: 0, stdout: ipNetns, stderr: "" });
    expect(await cli("exec", `--net=${path.join(stateDir, "ns", name)}`, ...readlink)).toEqual({ code: 0, stdout: ipNetns, stderr: "" });
    // The daemon holds no handle for it: the pin alone keeps it.
    expect((await cli("--json", "pins", name)).stdout).toContain(`"name": "${name}"`);
  });

  it("pins lists NAME TYPE NS PATH and the processes in it as `ip netns pids NAME` shows them", async () => {
    expect(existsSync(`/run/netns/${name}`)).toBe(true);
    sleeper = await startTarget(["ip", "netns", "exec", name]);
    const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).trim().split("\n").map(Number).sort((a, b) => a - b);
    expect(pids).toContain(sleeper.pid);
    const ns = readlinkSync(`/proc/${sleeper.pid}/ns/net`).replace(/^net:\[(\d+)\]$/, "$1");
    const listed = await cli("pins");
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trim().split("\n");
    expect(header.split(/\s+/)).toEqual(["NAME", "TYPE", "NS", "PATH", "PIDS"]);
    const row = rows.map((line) => line.split(/\s+/)).find((cells) => cells[0] === name);
    expect(row).toEqual([name, "net", ns, path.join(stateDir, "ns", name), pids.join(",")]);
    const json = JSON.parse((await cli("--json", "pins", name)).stdout);
    expect(json).toEqual({ pins: [{ name, type: "net", nsId: ns, path: path.join(stateDir, "ns", name), pids }] });
  });

  it("exec --net=FILE outside the pin directories: exit 2 before any call, as the daemon would refuse it", async () => {
    // /proc/PID/ns/TYPE is taken (made absolute and normalized first, as nsenter opens it).
    const target = sleeper!.pid;
    expect(await cli("exec", `--net=/proc/${target}/../${target}/ns/net`, "--", ...readlink)).toEqual({ code: 0, stdout: `${readlinkSync(`/proc/${target}/ns/net`)}\n`, stderr: "" });
    const refused = await cli("exec", "--net=/tmp/not-a-pin", "--", "true");
    expect(refused).toMatchObject({ code: 2, stdout: "" });
    expect(refused.stderr).toMatch(/^lxnsctl: --net=\/tmp\/not-a-pin: the daemon joins only \/proc\/PID\/ns\/TYPE and pins/);
    expect(spawnSync("nsenter", ["--net=/tmp/not-a-pin", "true"]).status).not.toBe(0);
  });
});
