import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { run } from "../../client/cli/main";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { CLI_MAIN, builtCliMain } from "../helpers/cli-bin";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** The compiled CLI, the `lxnsctl` bin (`npm test` builds it first; tsc leaves it non-executable, npm sets the mode on install). */

describeRoot("lxnsctl against a daemon", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  /** Runs the CLI in-process against the test daemon. */
  const cli = (...argv: string[]) => captureCli(["--address", lxnsd.address, ...argv]);

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "--net"]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });

  it("inspect -t PID -n --json gives the target's net namespace inode", async () => {
    const result = await cli("inspect", "-t", String(target.pid), "-n", "--json");
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const json = JSON.parse(result.stdout);
    expect(json.info.type).toBe("NAMESPACE_TYPE_NET");
    expect(BigInt(json.info.nsId)).toBe(nsInode(target.pid, "net"));
    expect(BigInt(json.info.nsId)).not.toBe(nsInode("self", "net"));
  });

  it("inspect prints key/value lines; --owner names the owning user namespace", async () => {
    const plain = await cli("inspect", "-t", String(target.pid), "--net");
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`^NS\\s+${nsInode(target.pid, "net")}$`, "m"));
    const owner = await cli("inspect", "-t", String(target.pid), "--net", "--owner");
    expect(owner.stdout).toMatch(/^TYPE\s+user$/m);
    expect(owner.stdout).toMatch(new RegExp(`^NS\\s+${nsInode("self", "user")}$`, "m"));
  });

  it("current lists the daemon's namespaces, one row per type", async () => {
    const result = await cli("current");
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TYPE\s+NS\s+DEVICE\s+OWNER-USERNS/);
    expect(lines).toHaveLength(9);
    expect(lines.find((line) => line.startsWith("net "))).toContain(String(nsInode("self", "net")));
  });

  it("unshare -n -u --hostname h, then inspect --handle, then close", async () => {
    const created = await cli("unshare", "-n", "-u", "--hostname", "h");
    expect(created).toMatchObject({ code: 0, stderr: "" });
    const rows = created.stdout.trim().split("\n").map((line) => line.split(/\s+/));
    expect(rows.map((row) => row[1])).toEqual(["net", "uts"]);
    const [handle, , nsId] = rows[1];
    const inspected = await cli("--json", "inspect", "--handle", handle);
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.stdout).info).toMatchObject({ type: "NAMESPACE_TYPE_UTS", nsId });
    expect(await cli("close", ...rows.map((row) => row[0]))).toEqual({ code: 0, stdout: "", stderr: "" });
    const closed = await cli("inspect", "--handle", handle);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^lxnsctl: FAILED_PRECONDITION: /);
  });

  it("open --json gives a handle that inspect and close accept", async () => {
    const opened = await cli("open", "-t", String(target.pid), "-n", "--lease", "30", "--json");
    expect(opened.code).toBe(0);
    const { handle } = JSON.parse(opened.stdout);
    expect(BigInt(handle.info.nsId)).toBe(nsInode(target.pid, "net"));
    expect(handle.expiresAt).toEqual(expect.any(String));
    expect((await cli("inspect", "--handle", handle.id)).code).toBe(0);
    expect((await cli("close", handle.id, handle.id)).code).toBe(0);
  });

  it("limit user prints /proc/sys/user/max_user_namespaces", async () => {
    const result = await cli("limit", "user");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
  });

  it("a pid that does not exist is NOT_FOUND, exit 1, no stack", async () => {
    const result = await cli("inspect", "-t", "2147483647", "-n");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("lxnsctl: NOT_FOUND: no process 2147483647\n");
    const exec = await cli("exec", "-t", "2147483647", "-n", "true");
    expect(exec).toEqual({ code: 1, stdout: "", stderr: "lxnsctl: NOT_FOUND: no process 2147483647\n" });
  });

  it("a program that is not there: its name and the PATH directories, once", async () => {
    const result = await cli("unshare", "-u", "lxnsctl-no-such-program");
    expect(result).toEqual({ code: 127, stdout: "", stderr: "lxnsctl: NOT_FOUND: lxnsctl-no-such-program: not found in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin (ENOENT)\n" });
  });

  it("--timeout says so, without grpc-js' timings", async () => {
    const result = await cli("--timeout", "200", "unshare", "-u", "sleep", "5");
    expect(result).toEqual({ code: 1, stdout: "", stderr: "lxnsctl: DEADLINE_EXCEEDED: no answer within --timeout 200 ms\n" });
  });

  it("a daemon that is not there is UNAVAILABLE, exit 1, in plain words", async () => {
    let stderr = "";
    const code = await run(["--address", "unix:/nonexistent/lxnsd.sock", "current"], { stdout: () => undefined, stderr: (text) => (stderr += text) });
    expect(code).toBe(1);
    expect(stderr).toBe("lxnsctl: UNAVAILABLE: cannot connect to unix:/nonexistent/lxnsd.sock: no such socket (is lxnsd running? --address, LXNSD_ADDRESS)\n");
  });

  it("the compiled bin gives the same output and exit codes", async () => {
    builtCliMain();
    const ok = await spawnCli(["limit", "user"], { ...process.env, LXNSD_ADDRESS: lxnsd.address });
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toBe(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
    const missing = await spawnCli(["--address", lxnsd.address, "inspect", "-t", "2147483647", "-n"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lxnsctl: NOT_FOUND: [^\n]+\n$/);
    const bad = await spawnCli(["inspect", "-t", "x", "-n"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lxnsctl: option '-t, --target <pid>' argument 'x' is invalid/);
  });
});

/** Runs the compiled CLI as a process; asynchronously, since the daemon serves from this process. */
function spawnCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...argv], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
