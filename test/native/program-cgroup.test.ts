// spawnProgram's own limits against the real kernel: a program in a cgroup
// v2 of its own (exec.cgroupParent) ended with cgroup.kill, its lifetime
// (exec.timeoutMs) bounding the steps before execve too, and programs
// named by the addon's id, never by pid.
import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

import * as native from "../../native/lib";
import { cgroup2Mount } from "../helpers/cgroup";
import { describeRoot } from "../helpers/privileged";
import { processState, readOrNull, waitFor } from "../helpers/proc";

const ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];
const sh = (script: string, marker: string) => ({ candidates: ["/bin/sh"], argv: ["sh", "-c", script, marker], env: ENV });
/** Waits until the background job $! has exec'd sleep (so setsid(2) is behind it). */
const AWAIT_SETSID = `until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done`;

function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && (readOrNull(`/proc/${entry}/cmdline`) ?? "").includes(marker))
    .map(Number);
}

function killAll(marker: string): void {
  for (const pid of processesWith(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

describeRoot("spawnProgram: limits owned by the addon", () => {
  let parent: string;
  let marker: string;

  beforeAll(() => {
    parent = path.join(cgroup2Mount(), `lxnsd-test-programs-${process.pid}-${randomInt(1e9)}`);
    mkdirSync(parent);
  });
  afterAll(() => {
    rmdirSync(parent);
  });
  beforeEach(() => {
    marker = `86400.${process.pid}${randomInt(1e6, 1e7)}`;
  });
  afterEach(() => killAll(marker));

  it("exec.cgroupParent: the program runs in a cgroup of its own, removed once it ended", async () => {
    const h = await native.spawnProgram({ exec: { ...sh(`cat /proc/self/cgroup; sleep ${marker}`, marker), cgroupParent: parent, collectOutput: 4096 } });
    native.close(h.stdin);
    expect(h.cgroup).toBe(path.join(parent, `program-${process.pid}-${h.id}`));
    expect(readFileSync(path.join(h.cgroup!, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number)).toContain(h.pid);
    await waitFor(() => processesWith(marker).some((pid) => readOrNull(`/proc/${pid}/comm`) === "sleep\n"), 5000, "cat done, sleep started");
    h.kill(9);
    const exit = await h.exited;
    expect(exit.signal).toBe(9);
    expect(exit.stdout!.toString().match(/^0::(.*)$/m)?.[1]).toBe(h.cgroup!.slice(cgroup2Mount().length));
    expect(existsSync(h.cgroup!)).toBe(false);
  });

  it("exec.cgroupParent: at its exit what it left outside its process group (setsid) is killed before exited", async () => {
    const h = await native.spawnProgram({ exec: { ...sh(`setsid sleep ${marker} & ${AWAIT_SETSID}; echo started`, marker), cgroupParent: parent, collectOutput: 4096 } });
    native.close(h.stdin);
    const exit = await h.exited;
    expect(exit).toEqual({ code: 0, stdout: Buffer.from("started\n"), stderr: Buffer.alloc(0), truncated: false });
    expect(processesWith(marker)).toEqual([]);
    expect(existsSync(h.cgroup!)).toBe(false);
  });

  it("exec.cgroupParent: exec.timeoutMs kills the whole cgroup: {signal: 9, timedOut: true}", async () => {
    const h = await native.spawnProgram({
      exec: { ...sh(`setsid sleep ${marker} </dev/null >/dev/null 2>&1 & ${AWAIT_SETSID}; sleep ${marker}`, marker), cgroupParent: parent, timeoutMs: 300 },
    });
    [h.stdin, h.stdout, h.stderr].forEach((fd) => native.close(fd));
    expect(await h.exited).toEqual({ signal: 9, timedOut: true });
    expect(processesWith(marker)).toEqual([]);
    expect(existsSync(h.cgroup!)).toBe(false);
  });

  it("exec.cgroupParent that is not a cgroup directory: rejects at step \"create cgroup\", nothing left", async () => {
    const before = native.runningChildren();
    await expect(native.spawnProgram({ exec: { ...sh("true", marker), cgroupParent: "/nonexistent-lxnsd" } })).rejects.toMatchObject({
      code: "ENOENT",
      step: native.STEP.createCgroup,
    });
    expect(native.runningChildren()).toBe(before);
  });

  it("exec.timeoutMs bounds the steps before execve too (a hung step): ETIMEDOUT", async () => {
    const started = Date.now();
    await expect(native.spawnProgram({ debugSleepMs: 5000, exec: { ...sh("true", marker), timeoutMs: 200 } })).rejects.toMatchObject({
      code: "ETIMEDOUT",
      step: native.STEP.debugSleep,
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("the addon exports its step names; STEP matches them", () => {
    expect(Object.values(native.STEP)).toContain("start program");
    expect(native.STEP.execve).toBe("execve");
  });

  it("kill() names the program by id: a reaped program whose output is still read never reaches a new one with its pid", async () => {
    // A: exits at once, its stdout held by a setsid'd job (no cgroup here), so A is reaped but still collecting.
    const a = await native.spawnProgram({ exec: { ...sh(`setsid sleep ${marker} & ${AWAIT_SETSID}; echo a`, marker), collectOutput: 4096 } });
    native.close(a.stdin);
    await waitFor(() => processState(a.pid) === null, 5000, "A reaped");
    // B gets A's pid: ns_last_pid makes the kernel hand it out next (others on the machine may race: retry).
    let b: native.ExecHandle | undefined;
    for (let attempt = 0; attempt < 100 && b === undefined; attempt++) {
      writeFileSync("/proc/sys/kernel/ns_last_pid", String(a.pid - 1));
      const candidate = await native.spawnProgram({ exec: sh(`sleep ${marker}`, marker) });
      if (candidate.pid === a.pid) b = candidate;
      else {
        candidate.kill(9);
        [candidate.stdin, candidate.stdout, candidate.stderr].forEach((fd) => native.close(fd));
        await candidate.exited;
      }
    }
    if (b === undefined) throw new Error(`could not get pid ${a.pid} again`);
    a.kill(9); // stops A's collecting; must not reach B
    const exitA = await a.exited;
    expect(exitA).toMatchObject({ code: 0, truncated: true });
    // B runs on: its exit does not come (a SIGKILL that reached it would end it within ms).
    const bEnded = await Promise.race([b.exited.then(() => "B ended"), new Promise((resolve) => setTimeout(() => resolve("B runs"), 500))]);
    expect(bEnded).toBe("B runs");
    expect([null, "Z"]).not.toContain(processState(b.pid));
    b.kill(9);
    [b.stdin, b.stdout, b.stderr].forEach((fd) => native.close(fd));
    expect(await b.exited).toEqual({ signal: 9 });
  }, 20000);
});
