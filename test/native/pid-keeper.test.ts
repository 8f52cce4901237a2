// The keeper init of a held new pid namespace, against the real kernel: the
// namespace stays joinable while result.keeper.fd is open, dies (with what
// runs inside) when it is closed, and nothing leaks on any path.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";

const { CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET } = native;

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Children of `ppid` with their state letter (Z = zombie). */
function childrenOf(ppid: number): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOrNull(`/proc/${entry}/stat`);
    if (stat === null) continue;
    const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(parent) === ppid) out.push({ pid: Number(entry), state });
  }
  return out;
}

/** The state letter of a process, null when /proc/PID is gone. */
function stateOf(pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
}

function nsPidLine(pid: number): number[] {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("NSpid:"));
  return line!.slice("NSpid:".length).trim().split(/\s+/).map(Number);
}

function nsInode(pid: number, name: string): bigint {
  return statSync(`/proc/${pid}/ns/${name}`, { bigint: true }).ino;
}

function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Starts `nsenter --pid=FILE sleep SECS` and returns it with the sleep's pid
 * (nsenter forks for --pid; the sleep is its child, inside the namespace). */
async function sleepInside(pidNsFd: number, secs: number): Promise<{ nsenter: ChildProcess; sleep: number; exited: Promise<unknown> }> {
  const nsenter = spawn("nsenter", [`--pid=${fdPath(pidNsFd)}`, "sleep", String(secs)], { stdio: "ignore" });
  const exited = new Promise((resolve) => nsenter.once("exit", (code, signal) => resolve({ code, signal })));
  let sleep = 0;
  await waitFor(() => {
    const kids = childrenOf(nsenter.pid!);
    if (kids.length === 1 && readOrNull(`/proc/${kids[0].pid}/comm`) === "sleep\n") sleep = kids[0].pid;
    return sleep !== 0;
  }, 5000, "the sleep inside the namespace");
  return { nsenter, sleep, exited };
}

/** Waits until the init is gone for good: no /proc entry, or (pid reused
 * meanwhile) not a child of ours; never left a zombie. */
async function expectInitGone(pid: number): Promise<void> {
  await waitFor(() => stateOf(pid) === null || !childrenOf(process.pid).some((c) => c.pid === pid), 1000, `keeper init ${pid} to be reaped`);
  expect(childrenOf(process.pid).filter((c) => c.pid === pid)).toEqual([]);
}

describeRoot("native keeper init of a held pid namespace", () => {
  let baselineFds = 0;
  beforeEach(() => {
    baselineFds = fdCount();
  });
  afterEach(async () => {
    await waitFor(() => native.runningChildren() === 0, 2000, "runningChildren() == 0");
    expect(fdCount()).toBe(baselineFds);
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it("keeps a new pid namespace alive and joinable until keeper.fd is closed", async () => {
    const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
    const [pidns] = r.fds;
    expect(r.keeper).toEqual({ pid: expect.any(Number), fd: expect.any(Number) });
    const { pid: init, fd: keeperFd } = r.keeper!;
    expect(native.runningChildren()).toBe(1);

    // pid 1 of the new namespace, a child of the daemon (this process).
    expect(nsPidLine(init)).toEqual([init, 1]);
    expect(readFileSync(`/proc/${init}/status`, "utf8")).toMatch(new RegExp(`^NSpid:\\t${init}\\t1$`, "m"));
    expect(childrenOf(process.pid)).toEqual([{ pid: init, state: "S" }]);
    expect(native.nsStat(pidns)).toMatchObject({ nstype: CLONE_NEWPID });
    expect(native.nsStat(pidns).ino).toBe(nsInode(init, "pid"));
    expect(native.nsStat(pidns).ino).not.toBe(nsInode(process.pid, "pid"));

    // The init keeps only the pipe's read end, ignores SIGCHLD, dies with us.
    expect(readdirSync(`/proc/${init}/fd`)).toEqual(["0"]);
    const status = readFileSync(`/proc/${init}/status`, "utf8");
    const sigIgn = BigInt("0x" + /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)![1]);
    expect(sigIgn & (1n << 16n)).toBe(1n << 16n); // SIGCHLD = 17
    expect(/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)![1]).toMatch(/^0+$/);

    // Two joins in a row: the namespace stays alive between them.
    for (let i = 0; i < 2; i++) {
      const { sleep, exited, nsenter } = await sleepInside(pidns, 5);
      const nspid = nsPidLine(sleep);
      expect(nspid).toHaveLength(2);
      expect(nspid[0]).toBe(sleep);
      expect(nspid[1]).toBeGreaterThan(1);
      expect(nsInode(sleep, "pid")).toBe(native.nsStat(pidns).ino);
      // Only the sleep: nsenter reaps it. (Killing nsenter first would orphan
      // the sleep to the host's init, and the namespace's init waits in
      // zap_pid_ns_processes until that one reaps it.)
      process.kill(sleep, "SIGKILL");
      expect(await exited).toEqual({ code: null, signal: "SIGKILL" });
      void nsenter;
    }
    expect(stateOf(init)).toBe("S");

    native.close(keeperFd);
    native.close(pidns);
    await expectInitGone(init);
    await waitFor(() => native.runningChildren() === 0, 1000, "runningChildren() == 0");
  });

  it("USER|PID: the init is in the new user namespace too, and joinable through it", async () => {
    const r = await native.runChild({
      unshareFlags: CLONE_NEWUSER | CLONE_NEWPID,
      idMap: { uidMap: "0 0 1", gidMap: "0 0 1", setgroups: "deny" },
      holdNs: ["user", "pid_for_children"],
    });
    const [user, pidns] = r.fds;
    const init = r.keeper!.pid;
    expect(nsPidLine(init)).toEqual([init, 1]);
    expect(native.nsStat(user).ino).toBe(nsInode(init, "user"));
    expect(native.nsStat(user).ino).not.toBe(nsInode(process.pid, "user"));
    expect(native.nsStat(pidns).ino).toBe(nsInode(init, "pid"));
    // The pid namespace is owned by the new user namespace.
    const owner = native.nsGetUserns(pidns);
    expect(native.nsStat(owner).ino).toBe(native.nsStat(user).ino);
    native.close(owner);
    expect(readFileSync(`/proc/${init}/uid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", "0", "1"]);

    const { sleep, exited, nsenter } = await sleepInside(pidns, 5);
    expect(nsPidLine(sleep)[1]).toBeGreaterThan(1);
    expect(nsInode(sleep, "pid")).toBe(native.nsStat(pidns).ino);
    process.kill(sleep, "SIGKILL");
    await exited;
    void nsenter;

    for (const fd of [r.keeper!.fd, user, pidns]) native.close(fd);
    await expectInitGone(init);
  });

  it("closing keeper.fd kills what still runs inside the namespace", async () => {
    const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
    const [pidns] = r.fds;
    const { sleep, exited } = await sleepInside(pidns, 100);
    expect(stateOf(sleep)).toBe("S");

    const closedAt = Date.now();
    native.close(r.keeper!.fd);
    native.close(pidns);
    expect(await exited).toEqual({ code: null, signal: "SIGKILL" }); // nsenter re-raises its child's signal
    expect(stateOf(sleep)).toBeNull();
    await expectInitGone(r.keeper!.pid);
    expect(Date.now() - closedAt).toBeLessThan(1000);
  });

  it("keeps the namespace with only keeper.fd open (the ns fd is not what keeps it)", async () => {
    const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
    const ino = native.nsStat(r.fds[0]).ino;
    native.close(r.fds[0]);
    // Re-open it through the init: possible only while the namespace lives.
    const again = native.openPath(`/proc/${r.keeper!.pid}/ns/pid`);
    expect(native.nsStat(again).ino).toBe(ino);
    native.close(again);
    native.close(r.keeper!.fd);
    await expectInitGone(r.keeper!.pid);
  });

  it("no keeper without CLONE_NEWPID or without pid_for_children", async () => {
    const a = await native.runChild({ unshareFlags: CLONE_NEWNET, holdNs: ["net", "pid_for_children"] });
    expect(a.keeper).toBeUndefined();
    for (const fd of a.fds) native.close(fd);
    const b = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid"] });
    expect(b.keeper).toBeUndefined();
    for (const fd of b.fds) native.close(fd);
    expect(native.runningChildren()).toBe(0);
  });

  describe("failure paths leave no keeper, child, zombie or fd", () => {
    const expectRejects = async (p: Promise<unknown>, fields: Partial<native.NativeError>): Promise<void> => {
      const err = await p.then(
        () => new Error("expected a NativeError"),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(native.NativeError);
      expect(err).toMatchObject(fields);
    };

    it("a step after the init fails (writeFile to a missing path)", async () => {
      await expectRejects(
        native.runChild({ unshareFlags: CLONE_NEWPID, writeFile: { path: "/nonexistent/lxnsd", data: "x" }, holdNs: ["pid_for_children"] }),
        { code: "ENOENT", step: "write file" },
      );
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
      expect(fdCount()).toBe(baselineFds);
    });

    it("USER|PID then a failing step", async () => {
      await expectRejects(
        native.runChild({
          unshareFlags: CLONE_NEWUSER | CLONE_NEWPID,
          idMap: { uidMap: "0 0 1", gidMap: "0 0 1", setgroups: "deny" },
          readFile: { path: "/nonexistent/lxnsd", maxBytes: 10 },
          holdNs: ["user", "pid_for_children"],
        }),
        { code: "ENOENT", step: "read file" },
      );
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });

    it("a timeout while the init exists", async () => {
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000, timeoutMs: 100 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The init exists meanwhile: a child of ours that is pid 1 somewhere.
      const inits = childrenOf(process.pid).filter((c) => nsPidLine(c.pid).length === 2 && nsPidLine(c.pid)[1] === 1);
      expect(inits).toHaveLength(1);
      await expectRejects(p, { code: "ETIMEDOUT", step: "debug sleep" });
      expect(stateOf(inits[0].pid)).toBeNull();
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });

    it("a cancel while the init exists", async () => {
      const ac = new AbortController();
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000 }, { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expectRejects(p, { code: "ECANCELED" });
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });

    it("the per-request child killed from outside after creating the init", async () => {
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const kids = childrenOf(process.pid);
      const request = kids.filter((c) => nsPidLine(c.pid).length === 1);
      expect(request).toHaveLength(1);
      expect(kids).toHaveLength(2);
      process.kill(request[0].pid, "SIGKILL");
      await expectRejects(p, { code: "ECHILD", step: "child died: signal 9" });
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });
  });

  it("50 unshare PID + close rounds: fds, runningChildren and children back to the start", async () => {
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = process.hrtime.bigint();
      const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
      expect(r.keeper).toBeDefined();
      native.close(r.keeper!.fd);
      native.close(r.fds[0]);
    }
    await waitFor(() => native.runningChildren() === 0, 2000, "all keepers reaped");
    expect(fdCount()).toBe(baselineFds);
    expect(childrenOf(process.pid)).toEqual([]);
    samples.sort((a, b) => a - b);
    // eslint-disable-next-line no-console
    console.log(`Unshare PID + keeper (runChild, sequential) p50 ${samples[25].toFixed(0)} µs, p90 ${samples[45].toFixed(0)} µs`);
  });
});
