import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { Readable } from "node:stream";
import type { CliIo } from "../../client/cli/main";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { CLI_MAIN, builtCliMain } from "../helpers/cli-bin";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** The compiled CLI (`npm run build`). */

describeRoot("lxnsctl exec and unshare -- CMD against a daemon", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  const cli = (argv: string[], io: Partial<CliIo> = {}) => captureCli(["--address", lxnsd.address, ...argv], io);

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "--uts"]);
    execFileSync("nsenter", ["-t", String(target.pid), "-u", "hostname", "lxnsctl-target"]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });

  it("exec -t PID -u -- hostname prints the target's hostname", async () => {
    const result = await cli(["exec", "-t", String(target.pid), "-u", "--", "hostname"]);
    expect(result).toEqual({ code: 0, stdout: "lxnsctl-target\n", stderr: "" });
  });

  it("exec -t PID -a runs in every namespace of the target (its user namespace, ours, skipped)", async () => {
    const result = await cli(["exec", "-t", String(target.pid), "-a", "--", "hostname"]);
    expect(result).toEqual({ code: 0, stdout: "lxnsctl-target\n", stderr: "" });
  });

  it("exec -U -n / --preserve-credentials on a target made by `setpriv --reuid 65534 unshare -r`: what nsenter prints", async () => {
    const rootless = await startTarget(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "-r", "--net", "--"]);
    try {
      const probe = ["sh", "-c", "id; grep CapEff /proc/self/status; readlink /proc/self/ns/user /proc/self/ns/net"];
      for (const extra of [[], ["--preserve-credentials"]]) {
        const nsenter = spawnSync("nsenter", ["-t", String(rootless.pid), "-U", "-n", ...extra, ...probe], { encoding: "utf8" });
        const result = await cli(["exec", "-t", String(rootless.pid), "-U", "-n", ...extra, "--", ...probe]);
        expect(result).toEqual({ code: nsenter.status, stdout: nsenter.stdout, stderr: "" });
      }
    } finally {
      await rootless.kill();
    }
  });

  it("unshare -c / --map-user / --map-group: the ids util-linux unshare gives", async () => {
    for (const flags of [["-c"], ["--map-user", "1000", "--map-group", "100"], ["-r"]]) {
      const program = ["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map"];
      const unshare = spawnSync("unshare", [...flags, ...program], { encoding: "utf8" });
      const result = await cli(["unshare", ...flags, ...program]);
      expect(result).toEqual({ code: unshare.status, stdout: unshare.stdout, stderr: "" });
    }
  });

  it("unshare -n -- readlink /proc/self/ns/net names another net namespace than ours", async () => {
    const result = await cli(["unshare", "-n", "--", "readlink", "/proc/self/ns/net"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^net:\[\d+\]\n$/);
    expect(result.stdout.trim()).not.toBe(readlinkSync("/proc/self/ns/net"));
  });

  it("unshare -p -f --mount-proc: the program is pid 1 and sees a fresh /proc", async () => {
    const result = await cli(["unshare", "-p", "-f", "--mount-proc", "--", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.split("\n")[0]).toBe("1");
    expect(Number(result.stdout.split("\n")[1])).toBeLessThanOrEqual(3);
  });

  it("the program's exit code propagates; death by a signal is 128+N", async () => {
    expect((await cli(["exec", "-t", String(target.pid), "-u", "--", "sh", "-c", "exit 3"])).code).toBe(3);
    expect((await cli(["unshare", "-u", "--", "sh", "-c", "kill -9 $$"])).code).toBe(137);
  });

  it("a program that is not there is 127, reported as NOT_FOUND", async () => {
    const result = await cli(["exec", "-t", String(target.pid), "-u", "--", "/nonexistent/program"]);
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/^lxnsctl: NOT_FOUND: .*ENOENT/);
  });

  it("a target that is not there is 1", async () => {
    const result = await cli(["exec", "-t", "2147483647", "-u", "--", "true"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^lxnsctl: NOT_FOUND: /);
  });

  it("round-trips stdin through cat, with env and cwd passed on", async () => {
    const stdin = Readable.from([Buffer.from("one\n"), Buffer.from("two\n")]);
    const chunks: Buffer[] = [];
    const writeOutput = async (_stream: string, data: Uint8Array) => void chunks.push(Buffer.from(data));
    const result = await cli(["exec", "-t", String(target.pid), "-u", "--", "cat"], { stdin, writeOutput });
    expect(result.code).toBe(0);
    expect(Buffer.concat(chunks).toString()).toBe("one\ntwo\n");
    const env = await cli(["unshare", "-u", "--env", "X=y", "-w", "/tmp", "--", "sh", "-c", 'echo "$X $(pwd)"']);
    expect(env.stdout).toBe("y /tmp\n");
  });

  it("the compiled bin: a program killed by a signal kills lxnsctl with it, as nsenter dies of it", async () => {
    builtCliMain();
    const env = { ...process.env, LXNSD_ADDRESS: lxnsd.address };
    for (const signal of ["TERM", "KILL", "INT"]) {
      const program = ["sh", "-c", `kill -${signal} $$`];
      const nsenter = spawnSync("nsenter", ["-t", String(target.pid), "-u", ...program]);
      // Not spawnSync: the daemon runs in this process.
      const child = spawn(process.execPath, [CLI_MAIN, "exec", "-t", String(target.pid), "-u", ...program], { env, stdio: "ignore" });
      const lxnsctl = await new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("close", (status, signal) => resolve({ status, signal })));
      expect(lxnsctl).toEqual({ status: nsenter.status, signal: nsenter.signal });
      expect(lxnsctl.signal).toBe(`SIG${signal}`);
    }
  });

  it("exec -t PID -u sh -c '…' without --: the same output and status as nsenter", async () => {
    const program = ["sh", "-c", "hostname; exit 4"];
    const nsenter = spawnSync("nsenter", ["-t", String(target.pid), "-u", ...program], { encoding: "utf8" });
    const result = await cli(["exec", "-t", String(target.pid), "-u", ...program]);
    expect(result).toEqual({ code: nsenter.status, stdout: nsenter.stdout, stderr: "" });
    expect(result.code).toBe(4);
  });

  it("the compiled bin: stdin piped through cat, exit code, and SIGTERM forwarded (the program's death by it is lxnsctl's)", async () => {
    builtCliMain();
    const env = { ...process.env, LXNSD_ADDRESS: lxnsd.address };
    const big = Buffer.alloc(4 * 1024 * 1024, "x");
    const cat = await spawnCli(["exec", "-t", String(target.pid), "-u", "--", "sh", "-c", "cat; exit 5"], env, big);
    expect(cat.code).toBe(5);
    expect(cat.stdout.length).toBe(big.length);
    expect(cat.stdout.equals(big)).toBe(true);
    const child = spawn(process.execPath, [CLI_MAIN, "unshare", "-u", "--", "sh", "-c", "echo ready; exec sleep 100"], { env, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.kill("SIGTERM");
    const signal = await new Promise((resolve) => child.once("close", (_code, signal) => resolve(signal)));
    expect(signal).toBe("SIGTERM");
  });
});

function spawnCli(argv: string[], env: NodeJS.ProcessEnv, stdin: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...argv], { env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
    child.stdin.end(stdin);
  });
}
