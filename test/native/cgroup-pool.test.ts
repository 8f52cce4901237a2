// exec.reuseCgroup against the real kernel: a program's cgroup that it left
// empty and that was never killed serves the next program below the same
// parent (clone3 into a cgroup that held a process is cheaper); a killed or
// changed one never does; idle ones go after their time and at killAll.
import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";

import * as native from "../../native/lib";
import { cgroup2Mount } from "../helpers/cgroup";
import { describeRoot } from "../helpers/privileged";
import { readOrNull, waitFor } from "../helpers/proc";

const ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];
/** Waits until the background job $! has exec'd sleep (so setsid(2) is behind it). */
const AWAIT_SETSID = `until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done`;
/** The pool's bound and idle time (native/src/child/cgroup_pool.h). */
const MAX_IDLE = 16;
const IDLE_MS = 3000;

function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && (readOrNull(`/proc/${entry}/cmdline`) ?? "").includes(marker))
    .map(Number);
}

/** The cgroup v2 directory named by a "0::/path" line in `text` (a program's /proc/self/cgroup). */
function cgroupIn(text: string): string {
  return path.join(cgroup2Mount(), text.match(/^0::(.*)$/m)![1]);
}

const procsOf = (dir: string) => readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);

describeRoot("spawnProgram exec.reuseCgroup: a pool of used, never-killed program cgroups", () => {
  let parent: string;
  let marker: string;
  /** Runs `script` (sh -c) with the pool below `parent` and waits for its exit; what it printed and its cgroup. */
  const run = async (script: string, extra: Partial<native.SpawnSpec["exec"]> = {}) => {
    const h = await native.spawnProgram({
      exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", script, marker], env: ENV, cgroupParent: parent, reuseCgroup: true, collectOutput: 4096, ...extra },
    });
    native.close(h.stdin);
    const exit = await h.exited;
    return { h, exit, stdout: exit.stdout!.toString() };
  };

  beforeAll(() => {
    parent = path.join(cgroup2Mount(), `lxnsd-test-pool-${process.pid}-${randomInt(1e9)}`);
    mkdirSync(parent);
  });
  afterAll(() => {
    native.killAllChildren();  // empties the pool
    rmdirSync(parent);
  });
  beforeEach(() => {
    marker = `86400.${process.pid}${randomInt(1e6, 1e7)}`;
  });
  afterEach(() => {
    for (const pid of processesWith(marker)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    native.killAllChildren();  // each test starts with an empty pool
    expect(readdirSync(parent).filter((name) => name.startsWith("program-"))).toEqual([]);
  });

  it("a program that left nothing: its cgroup stays, empty, and the next program is cloned into it", async () => {
    const a = await run("cat /proc/self/cgroup");
    expect(a.exit.code).toBe(0);
    const dir = cgroupIn(a.stdout);
    expect(dir).toBe(a.h.cgroup);
    expect(existsSync(dir)).toBe(true);
    expect(procsOf(dir)).toEqual([]);
    expect(readFileSync(path.join(dir, "cgroup.events"), "utf8")).toMatch(/^populated 0$/m);
    const inode = statSync(dir).ino;
    const b = await run("cat /proc/self/cgroup");
    expect(b.exit.code).toBe(0);
    expect(cgroupIn(b.stdout)).toBe(dir);
    expect(b.h.cgroup).toBe(dir);
    expect(statSync(dir).ino).toBe(inode);
    expect(native.runningChildren()).toBe(0);  // idle cgroups are not running
  });

  it("without exec.reuseCgroup the cgroup is removed and none is taken from the pool", async () => {
    const a = await run("true");
    const b = await run("cat /proc/self/cgroup", { reuseCgroup: false });
    expect(cgroupIn(b.stdout)).not.toBe(a.h.cgroup);
    expect(existsSync(b.h.cgroup!)).toBe(false);
    expect(existsSync(a.h.cgroup!)).toBe(true);  // still idle
  });

  it("a program that left a process behind: its cgroup is killed and removed; the next one gets a fresh cgroup and runs", async () => {
    const a = await run(`setsid sleep ${marker} </dev/null >/dev/null 2>&1 & ${AWAIT_SETSID}; echo started`);
    expect(a.exit.code).toBe(0);
    expect(processesWith(marker)).toEqual([]);
    expect(existsSync(a.h.cgroup!)).toBe(false);
    const b = await run("cat /proc/self/cgroup; echo ran");
    expect(b.exit).toMatchObject({ code: 0 });  // not SIGKILLed at birth (a killed cgroup's quirk)
    expect(b.stdout).toMatch(/ran\n$/);
    expect(cgroupIn(b.stdout)).not.toBe(a.h.cgroup);
  });

  it("a program killed by kill(9): its cgroup is never reused", async () => {
    const h = await native.spawnProgram({
      exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", `sleep ${marker}`, marker], env: ENV, cgroupParent: parent, reuseCgroup: true, collectOutput: 4096 },
    });
    native.close(h.stdin);
    h.kill(9);
    expect((await h.exited).signal).toBe(9);
    expect(existsSync(h.cgroup!)).toBe(false);
    const b = await run("cat /proc/self/cgroup");
    expect(b.exit.code).toBe(0);
    expect(cgroupIn(b.stdout)).not.toBe(h.cgroup);
  });

  /** The program's own cgroup directory, in a shell script. */
  const OWN = () => `${cgroup2Mount()}$(sed -n 's/^0:://p' /proc/self/cgroup)`;

  it("a program that left a sub-cgroup: its cgroup is not reused", async () => {
    const a = await run(`mkdir ${OWN()}/sub`);
    expect(a.exit.code).toBe(0);
    try {
      const b = await run("cat /proc/self/cgroup");
      expect(b.exit.code).toBe(0);
      expect(cgroupIn(b.stdout)).not.toBe(a.h.cgroup);
    } finally {
      // As without the pool: rmdir failed (EBUSY), the cgroup stays behind until its sub-cgroup is gone.
      rmdirSync(path.join(a.h.cgroup!, "sub"));
      if (existsSync(a.h.cgroup!)) rmdirSync(a.h.cgroup!);
    }
  });

  it("a program that chmod'ed its cgroup (delegated it): removed, not reused", async () => {
    const a = await run(`chmod 0777 ${OWN()}`);
    expect(a.exit.code).toBe(0);
    expect(existsSync(a.h.cgroup!)).toBe(false);
    const b = await run("cat /proc/self/cgroup");
    expect(cgroupIn(b.stdout)).not.toBe(a.h.cgroup);
  });

  it("an idle cgroup frozen meanwhile is removed, never given to a program: the next program runs", async () => {
    // As a process that the program moved out of its cgroup could do (only root can) once the program is gone.
    const a = await run("true");
    writeFileSync(path.join(a.h.cgroup!, "cgroup.freeze"), "1");
    const b = await run("cat /proc/self/cgroup; echo ran");
    expect(b.exit.code).toBe(0);
    expect(b.stdout).toMatch(/ran\n$/);
    expect(cgroupIn(b.stdout)).not.toBe(a.h.cgroup);
    expect(existsSync(a.h.cgroup!)).toBe(false);
  });

  it("an idle cgroup that got a process meanwhile is killed and removed, never given to a program", async () => {
    const a = await run("true");
    const dir = a.h.cgroup!;
    const { spawn } = await import("node:child_process");
    const intruder = spawn("sleep", [marker], { stdio: "ignore" });
    try {
      writeFileSync(path.join(dir, "cgroup.procs"), String(intruder.pid));
      const b = await run("cat /proc/self/cgroup");
      expect(b.exit.code).toBe(0);
      expect(cgroupIn(b.stdout)).not.toBe(dir);
      await waitFor(() => intruder.exitCode !== null || intruder.signalCode !== null, 5000, "the intruder killed");
      expect(intruder.signalCode).toBe("SIGKILL");
      expect(existsSync(dir)).toBe(false);
    } finally {
      intruder.kill("SIGKILL");
    }
  });

  it(`holds at most ${MAX_IDLE} idle cgroups`, async () => {
    const n = MAX_IDLE + 3;
    // All alive at once (each waits for its stdin to close), so each has a cgroup of its own.
    const handles = await Promise.all(
      Array.from({ length: n }, () =>
        native.spawnProgram({ exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", "read x", marker], env: ENV, cgroupParent: parent, reuseCgroup: true, collectOutput: 0 } }),
      ),
    );
    expect(new Set(handles.map((h) => h.cgroup)).size).toBe(n);
    handles.forEach((h) => native.close(h.stdin));
    await Promise.all(handles.map((h) => h.exited));
    expect(readdirSync(parent).filter((name) => name.startsWith("program-"))).toHaveLength(MAX_IDLE);
  });

  it(`idle cgroups are removed after ~${IDLE_MS} ms`, async () => {
    const a = await run("true");
    expect(existsSync(a.h.cgroup!)).toBe(true);
    await waitFor(() => !existsSync(a.h.cgroup!), IDLE_MS + 3000, "the idle cgroup removed");
  });

  it("killAll removes the idle cgroups", async () => {
    const a = await run("true");
    expect(existsSync(a.h.cgroup!)).toBe(true);
    native.killAllChildren();
    expect(existsSync(a.h.cgroup!)).toBe(false);
  });
});
