import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { NamespaceType, status } from "../../client";
import type { ExecSpecInit } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, newHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";
import { processState, readOrNull, waitFor } from "../helpers/proc";
import { processesWith, runMarker } from "../reliability/support/markers";
import { sharedMount } from "../helpers/shared-mount";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** The fields of /proc/PID/stat after "(comm)", from [1]: [1] state, [2] ppid, [3] pgrp; [] when gone. */
const statFields = (pid: number | string): string[] => {
  const stat = readOrNull(`/proc/${pid}/stat`);
  return stat === null ? [] : ["", ...stat.slice(stat.lastIndexOf(")") + 2).split(" ")];
};

/** Every process whose process group is `pgrp`. */
const groupMembers = (pgrp: number): number[] =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => Number(statFields(entry)[3]) === pgrp)
    .map(Number);

const pidRef = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });

describeRoot("Run", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "--net", "--uts", "--ipc", "--mount"]);
    execFileSync("nsenter", ["-t", String(target.pid), "-u", "hostname", "lxnsd-target"]);
  });
  afterAll(async () => {
    await target.kill();
    await lxnsd.stop();
  });

  const run = (spec: ExecSpecInit, options = {}) => lxnsd.client.run(spec, options);

  it("hostname joined to a target's UTS namespace prints what nsenter -t PID -u hostname prints", async () => {
    const result = await run({ join: [pidRef(NamespaceType.UTS, target.pid)], argv: ["hostname"] });
    expect(result.exit).toEqual({ code: 0 });
    expect(result.stdout.toString()).toBe(execFileSync("nsenter", ["-t", String(target.pid), "-u", "hostname"], { encoding: "utf8" }));
    expect(result.stdout.toString()).toBe("lxnsd-target\n");
  });

  it("runs in the target's net namespace: readlink /proc/self/ns/net", async () => {
    const result = await run({ join: [pidRef(NamespaceType.NET, target.pid), pidRef(NamespaceType.UTS, target.pid)], argv: ["readlink", "/proc/self/ns/net"] });
    expect(result.stdout.toString().trim()).toBe(readlinkSync(`/proc/${target.pid}/ns/net`));
    expect(result.stdout.toString().trim()).not.toBe(readlinkSync("/proc/self/ns/net"));
  });

  it("an unshared pid namespace (with mnt: a fresh /proc): the program is pid 1 and ps sees only its tree", async () => {
    const result = await run({ unshare: [NamespaceType.PID, NamespaceType.MNT], argv: ["sh", "-c", "echo $$; ps -e -o pid= | wc -l"] });
    expect(result.stderr.toString()).toBe("");
    const [pid, count] = result.stdout.toString().trim().split(/\s+/).map(Number);
    expect(pid).toBe(1);
    expect(count).toBeLessThanOrEqual(3); // sh, ps and wc at most
  });

  it("a new mount namespace is private: a tmpfs mounted in it stays out of the host", async () => {
    const shared = sharedMount();
    try {
      const result = await run({ unshare: [NamespaceType.MNT], argv: ["sh", "-c", `findmnt -n -o PROPAGATION ${shared.dir}; mount -t tmpfs lxnsd-run-test ${shared.sub} && findmnt -n -o SOURCE ${shared.sub}`] });
      expect(result.stdout.toString()).toBe("private\nlxnsd-run-test\n");
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain("lxnsd-run-test");
    } finally {
      shared.remove();
    }
  });

  it("a time namespace with a boottime offset shows in /proc/uptime", async () => {
    const result = await run({ unshare: [NamespaceType.TIME], unshareOptions: { boottimeOffset: { seconds: 86400n } }, argv: ["cat", "/proc/uptime"] });
    const inside = Number(result.stdout.toString().split(" ")[0]);
    const outside = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    expect(Math.abs(inside - outside - 86400)).toBeLessThan(5);
  });

  it("switches uid and gid, as id shows", async () => {
    const result = await run({ argv: ["id"], uid: 65534, gid: 65534 });
    expect(result.stdout.toString()).toMatch(/^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534/);
  });

  it("cwd and env reach the program; PATH finds argv[0]", async () => {
    const result = await run({ argv: ["sh", "-c", "pwd; echo $GREETING; echo $PATH"], cwd: "/tmp", env: ["GREETING=hi", "PATH=/nonexistent:/bin"] });
    expect(result.stdout.toString()).toBe("/tmp\nhi\n/nonexistent:/bin\n");
  });

  it("exit code 3 and death by SIGKILL are answers, not errors", async () => {
    expect((await run({ argv: ["sh", "-c", "exit 3"] })).exit).toEqual({ code: 3 });
    expect((await run({ argv: ["sh", "-c", "kill -9 $$"] })).exit).toEqual({ signal: 9 });
  });

  it("round-trips stdin through cat and caps output with truncated set", async () => {
    const echoed = await run({ argv: ["cat"] }, { stdin: "hello\nworld\n" });
    expect(echoed.stdout.toString()).toBe("hello\nworld\n");
    expect(echoed.truncated).toBe(false);
    const capped = await run({ argv: ["head", "-c", "100000", "/dev/zero"] }, { maxOutputBytes: 1000 });
    expect(capped.stdout.length).toBe(1000);
    expect(capped.truncated).toBe(true);
    expect(capped.exit).toEqual({ code: 0 });
  });

  it("kills the program at its timeout: DEADLINE_EXCEEDED, and the process group is gone", async () => {
    const held = fdHoldings();
    const marker = runMarker();
    // Both sleeps carry the marker: the program (exec'd by sh) and the one it left in its group.
    const call = run({ argv: ["sh", "-c", `sleep ${marker} & exec sleep ${marker}`], timeout: { seconds: 2n } }).catch((e) => e);
    await waitFor(() => processesWith(marker).length === 2, 2000, "the program and its background sleep to run");
    const group = Number(statFields(processesWith(marker)[0])[3]); // pgrp
    expect(processesWith(marker).map((pid) => Number(statFields(pid)[3]))).toEqual([group, group]);
    expect(await call).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    await waitFor(() => processesWith(marker).length === 0 && groupMembers(group).length === 0, 2000, `process group ${group} to be gone`);
    await waitForNoNewHoldings(held, 2000);
  });

  it("kills what a finished program left running in its process group", async () => {
    const result = await run({ argv: ["sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!"] });
    const background = Number(result.stdout.toString());
    // Dead: gone, or a zombie waiting for the host's init, which inherited it from the exited shell.
    await waitFor(() => [null, "Z"].includes(processState(background)), 1000, `pid ${background} to die`);
  });

  it.each<[string, ExecSpecInit, { timeoutMs?: number }, status]>([
    ["its timeout", { timeout: { nanos: 500_000_000 } }, {}, status.DEADLINE_EXCEEDED],
    ["the call's deadline", {}, { timeoutMs: 500 }, status.DEADLINE_EXCEEDED],
  ])("a descendant that left the process group and keeps stdout open does not outlast %s: the pipes are let go", async (_name, limits, options, code) => {
    // A sleep of 30.<unique digits> seconds: found again by its command line, to be killed at the end.
    const sleep = `sleep 30.${process.pid}${Date.now() % 100000}`;
    const held = fdHoldings();
    try {
      // setsid -f: a new session, out of reach of the group kill; it holds the write ends of stdout and stderr.
      // (The program's cgroup ends it too, where there is one: test/server/program-cgroup.test.ts.)
      const started = Date.now();
      const err = await run({ argv: ["sh", "-c", `setsid -f ${sleep}; echo started; exec ${sleep}`], ...limits }, options).catch((e) => e);
      expect(err).toMatchObject({ code });
      expect(Date.now() - started).toBeLessThan(5000);
      await waitForNoNewHoldings(held, 2000, "the daemon's fds to come back");
    } finally {
      spawnSync("pkill", ["-f", `^${sleep}$`]); // none left, with a cgroup for the program
    }
  });

  it.each<[string, ExecSpecInit, status]>([
    ["a program that does not exist", { argv: ["/nonexistent/program"] }, status.NOT_FOUND],
    ["a program not on PATH", { argv: ["lxnsd-no-such-program"] }, status.NOT_FOUND],
    ["a directory as program", { argv: ["/tmp"] }, status.PERMISSION_DENIED],
    ["empty argv", { argv: [] }, status.INVALID_ARGUMENT],
    ["an empty argv[0]", { argv: [""] }, status.INVALID_ARGUMENT],
    ["env without =", { argv: ["true"], env: ["PATH"] }, status.INVALID_ARGUMENT],
    ["a relative cwd", { argv: ["true"], cwd: "tmp" }, status.INVALID_ARGUMENT],
    ["a cwd that does not exist", { argv: ["true"], cwd: "/nonexistent" }, status.NOT_FOUND],
    ["a target pid that has exited", { argv: ["true"], join: [pidRef(NamespaceType.NET, 2 ** 22 + 11)] }, status.NOT_FOUND],
    ["the same type joined twice", { argv: ["true"], join: [pidRef(NamespaceType.NET, process.pid), pidRef(NamespaceType.NET, process.pid)] }, status.INVALID_ARGUMENT],
    ["options for a type not unshared", { argv: ["true"], unshareOptions: { hostname: "x" } }, status.INVALID_ARGUMENT],
    // The kernel refuses the offset (ERANGE): refused before the child, not OUT_OF_RANGE from it (fuzz seed 1263005350).
    ["a clock offset that puts the clock below zero", { argv: ["true"], unshare: [NamespaceType.TIME, NamespaceType.UTS], unshareOptions: { monotonicOffset: { seconds: -(2n ** 40n) } } }, status.INVALID_ARGUMENT],
    ["a clock offset past KTIME_SEC_MAX / 2", { argv: ["true"], unshare: [NamespaceType.TIME], unshareOptions: { boottimeOffset: { seconds: 5_000_000_000n } } }, status.INVALID_ARGUMENT],
  ])("%s is an error with its status and leaks nothing", async (_name, spec, code) => {
    const held = fdHoldings();
    const err = await run(spec).catch((e) => e);
    expect(err).toMatchObject({ code });
    expect(newHoldings(held)).toEqual([]);
  });

  it("names the failed step and errno when the program cannot start", async () => {
    const err = await run({ argv: ["/nonexistent/program"] }).catch((e) => e);
    expect(err).toMatchObject({ errno: "ENOENT", syscall: "execve" });
  });

  it("a closed handle is FAILED_PRECONDITION", async () => {
    const { handle } = await lxnsd.client.open({ ref: pidRef(NamespaceType.UTS, target.pid) });
    await lxnsd.client.close({ handle: handle!.id });
    await expect(run({ argv: ["true"], join: [{ source: { case: "handle", value: handle!.id } }] })).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
  });

  it("a held pid namespace whose init exited is FAILED_PRECONDITION (clone's ENOMEM), not RESOURCE_EXHAUSTED", async () => {
    const init = await startTarget(["unshare", "--pid", "--fork"]);
    const { handle } = await lxnsd.client.open({ ref: pidRef(NamespaceType.PID, init.pid) });
    await init.kill();
    try {
      await expect(run({ argv: ["true"], join: [{ source: { case: "handle", value: handle!.id } }] })).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        reason: "PID_NAMESPACE_DEAD",
        errno: "ENOMEM",
      });
    } finally {
      await lxnsd.client.close({ handle: handle!.id });
    }
  });

  it("joins a handle from Unshare: a held pid namespace runs programs again and again", async () => {
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.PID] });
    try {
      const join = [{ source: { case: "handle" as const, value: handles[0].id } }];
      const first = await run({ join, argv: ["sh", "-c", "grep NSpid /proc/self/status"] });
      const second = await run({ join, argv: ["sh", "-c", "grep NSpid /proc/self/status"] });
      const innerPid = (out: Buffer) => Number(out.toString().trim().split(/\s+/).pop());
      expect(innerPid(first.stdout)).toBeGreaterThan(1);
      expect(innerPid(second.stdout)).toBeGreaterThan(innerPid(first.stdout));
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });
});
