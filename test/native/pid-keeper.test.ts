// The keeper init of a held new pid namespace, against the real kernel: the
// namespace stays joinable while result.keeper.fd is open, dies (with what
// runs inside) when it is closed, and nothing leaks on any path.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import * as native from "../../native/lib";
import { checkNativeLeaksAfterEach } from "../helpers/native";
import { describeRoot } from "../helpers/privileged";
import { newHoldings } from "../helpers/fd-holdings";
import { childrenOf, fdPath, nsInode, nsPidLine, processState, readOrNull, statusField, waitFor } from "../helpers/proc";

const { CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWTIME } = native;

const RELEASE = path.resolve(__dirname, "../../native/build/Release");
const PAUSE = path.join(RELEASE, "lxnsd-pause");

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
/** Our children that are pid 1 of a pid namespace of their own (keeper inits). */
function initsOfOurs(): { pid: number }[] {
  return childrenOf(process.pid).filter((c) => processState(c.pid) !== null && nsPidLine(c.pid).length === 2 && nsPidLine(c.pid)[1] === 1);
}

/** Whether process `pid` ignores SIGCHLD (17: bit 16 of SigIgn). */
function ignoresSigchld(pid: number): boolean {
  return (BigInt("0x" + statusField(pid, "SigIgn")) & (1n << 16n)) !== 0n;
}

async function expectInitGone(pid: number): Promise<void> {
  await waitFor(() => processState(pid) === null || !childrenOf(process.pid).some((c) => c.pid === pid), 1000, `keeper init ${pid} to be reaped`);
  expect(childrenOf(process.pid).filter((c) => c.pid === pid)).toEqual([]);
}

describeRoot("native keeper init of a held pid namespace", () => {
  const baselineHeld = checkNativeLeaksAfterEach();

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
    expect(ignoresSigchld(init)).toBe(true);
    expect(statusField(init, "SigCgt")).toMatch(/^0+$/);

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
    expect(processState(init)).toBe("S");

    native.close(keeperFd);
    native.close(pidns);
    await expectInitGone(init);
    await waitFor(() => native.runningChildren() === 0, 1000, "runningChildren() == 0");
  });

  it("the keeper is lxnsd-pause: its own small program, not a copy of the daemon", async () => {
    const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
    const init = r.keeper!.pid;
    // A failed expectation must not leave the init running: every later test would count it.
    try {
      expect(readlinkSync(`/proc/${init}/exe`)).toBe(realpathSync(PAUSE));
      expect(readFileSync(`/proc/${init}/comm`, "utf8")).toBe("lxnsd-pause\n");
      expect(readFileSync(`/proc/${init}/cmdline`, "utf8")).toBe("lxnsd-pause\0");
      expect(readFileSync(`/proc/${init}/environ`, "utf8")).toBe("");
      const rssKb = Number(/^(\d+) kB$/.exec(statusField(init, "VmRSS"))![1]);
      expect(rssKb).toBeLessThan(2048);
      expect(nsPidLine(init)).toEqual([init, 1]);
      expect(readdirSync(`/proc/${init}/fd`)).toEqual(["0"]);
      // Ignored from before its exec: under CPU load, this read once came before lxnsd-pause's own sigaction.
      expect(ignoresSigchld(init)).toBe(true);
      expect(statusField(init, "SigBlk")).toMatch(/^0+$/);
      expect(childrenOf(process.pid)).toEqual([{ pid: init, state: "S" }]);
    } finally {
      native.close(r.keeper!.fd);
      native.close(r.fds[0]);
    }
    await expectInitGone(init);
  });

  it("a fork-style child makes the same keeper; PID|TIME puts it in the new time namespace at exec", async () => {
    const a = await native.runChild({ debugCloneMode: "fork", unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
    expect(readlinkSync(`/proc/${a.keeper!.pid}/exe`)).toBe(realpathSync(PAUSE));
    expect(nsPidLine(a.keeper!.pid)).toEqual([a.keeper!.pid, 1]);
    native.close(a.keeper!.fd);
    native.close(a.fds[0]);
    await expectInitGone(a.keeper!.pid);

    // The init is a CLONE_VM|CLONE_VFORK child: it enters the new time
    // namespace only at exec, and must be in it afterwards.
    const b = await native.runChild({
      unshareFlags: CLONE_NEWPID | CLONE_NEWTIME,
      timensOffsets: "boottime 3600 0\n",
      holdNs: ["pid_for_children", "time_for_children"],
    });
    const [pidns, time] = b.fds;
    const init = b.keeper!.pid;
    expect(readlinkSync(`/proc/${init}/exe`)).toBe(realpathSync(PAUSE));
    expect(nsInode(init, "time")).toBe(native.nsStat(time).ino);
    expect(nsInode(init, "time")).not.toBe(nsInode(process.pid, "time"));
    expect(nsInode(init, "pid")).toBe(native.nsStat(pidns).ino);
    for (const fd of [b.keeper!.fd, pidns, time]) native.close(fd);
    await expectInitGone(init);
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
    let closedAt = 0;
    try {
      // Just started, on a loaded machine it may still be running (R) rather than asleep.
      await waitFor(() => processState(sleep) === "S", 5000, "the sleep inside to sleep");
    } finally {
      // Whatever failed: a keeper left open would count as a running child in every later native test.
      closedAt = Date.now();
      native.close(r.keeper!.fd);
      native.close(pidns);
    }
    expect(await exited).toEqual({ code: null, signal: "SIGKILL" }); // nsenter re-raises its child's signal
    expect(processState(sleep)).toBeNull();
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
      expect(newHoldings(baselineHeld())).toEqual([]);
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
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000, timeoutMs: 1500 });
      // The init exists meanwhile: a child of ours that is pid 1 somewhere.
      let inits: { pid: number }[] = [];
      await waitFor(() => (inits = initsOfOurs()).length === 1, 1000, "the keeper init");
      await expectRejects(p, { code: "ETIMEDOUT", step: "debug sleep" });
      expect(processState(inits[0].pid)).toBeNull();
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });

    it("a cancel while the init exists", async () => {
      const ac = new AbortController();
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000 }, { signal: ac.signal });
      await waitFor(() => initsOfOurs().length === 1, 1000, "the keeper init");
      const [init] = initsOfOurs();
      ac.abort();
      await expectRejects(p, { code: "ECANCELED" });
      expect(processState(init.pid)).toBeNull();
      expect(native.runningChildren()).toBe(0);
      expect(childrenOf(process.pid)).toEqual([]);
    });

    it("the per-request child killed from outside after creating the init", async () => {
      const p = native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"], debugSleepMs: 5000 });
      await waitFor(() => initsOfOurs().length === 1, 1000, "the keeper init");
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

  describe("lxnsd-pause missing or broken (a copy of the addon in a temporary directory)", () => {
    // Runs in a separate node: requires the raw addon copied to `dir`, tries
    // a PID hold and a NET hold, and prints what happened as JSON.
    const SCRIPT = `
      const fs = require("node:fs");
      const raw = require(process.argv[1]);
      const out = {};
      const children = () => fs.readdirSync("/proc").filter((e) => /^\\d+$/.test(e)).filter((e) => {
        try { const s = fs.readFileSync("/proc/" + e + "/stat", "utf8"); return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]) === process.pid; }
        catch { return false; }
      });
      const fields = (e) => ({ message: e.message, code: e.code, syscall: e.syscall, step: e.step });
      const fdsBefore = fs.readdirSync("/proc/self/fd").length;
      let pending = 2;
      const done = () => {
        if (--pending > 0) return;
        setTimeout(() => {
          out.running = raw.runningChildren();
          out.children = children();
          out.fdDelta = fs.readdirSync("/proc/self/fd").length - fdsBefore;
          process.stdout.write(JSON.stringify(out));
        }, 50);
      };
      try {
        raw.runChild({ unshareFlags: ${CLONE_NEWPID}, holdNs: ["pid_for_children"] }, (err, r) => {
          out.pid = err ? { async: fields(err) } : { keeper: r.keeper !== undefined };
          done();
        });
      } catch (e) {
        out.pid = { sync: fields(e) };
        done();
      }
      raw.runChild({ unshareFlags: ${CLONE_NEWNET}, holdNs: ["net"] }, (err, r) => {
        out.net = err ? fields(err) : r.fds.length;
        if (!err) r.fds.forEach((fd) => raw.close(fd));
        done();
      });
    `;
    let dir = "";
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), "lxnsd-pause-"));
      copyFileSync(path.join(RELEASE, "lxnsd_native.node"), path.join(dir, "lxnsd_native.node"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    type Fields = { message: string; code: string; syscall: string; step?: string };
    interface Outcome {
      pid: { sync?: Fields; async?: Fields; keeper?: boolean };
      net: number | Fields;
      running: number;
      children: string[];
      fdDelta: number;
    }
    const run = (): Outcome =>
      JSON.parse(execFileSync(process.execPath, ["-e", SCRIPT, path.join(dir, "lxnsd_native.node")], { encoding: "utf8" }));

    it("missing: runChild of a PID hold throws ENOENT naming the path; other specs still run", () => {
      const out = run();
      expect(out.pid.sync).toMatchObject({ code: "ENOENT", syscall: "open", step: "exec pause" });
      expect(out.pid.sync!.message).toContain(`open(${path.join(dir, "lxnsd-pause")}): ENOENT`);
      expect(out.pid.sync!.message).toContain("node-gyp rebuild --directory native");
      expect(out.net).toBe(1);
      expect(out).toMatchObject({ running: 0, children: [], fdDelta: 0 });
    });

    it("not an executable program: the init's execveat failure comes back as step exec pause, nothing left", () => {
      writeFileSync(path.join(dir, "lxnsd-pause"), Buffer.alloc(64));
      chmodSync(path.join(dir, "lxnsd-pause"), 0o755);
      const out = run();
      expect(out.pid.async).toMatchObject({ code: "ENOEXEC", syscall: "execveat", step: "exec pause" });
      expect(out.pid.async!.message).toContain(`execveat(${path.join(dir, "lxnsd-pause")}): ENOEXEC`);
      expect(out.net).toBe(1);
      expect(out).toMatchObject({ running: 0, children: [], fdDelta: 0 });
    });

    it("not executable (mode 0644): refused at load, reported as EACCES", () => {
      copyFileSync(PAUSE, path.join(dir, "lxnsd-pause"));
      chmodSync(path.join(dir, "lxnsd-pause"), 0o644);
      const out = run();
      // root may execute a file only if some x bit is set
      expect(out.pid.sync).toMatchObject({ code: "EACCES", syscall: "open", step: "exec pause" });
      expect(out).toMatchObject({ running: 0, children: [], fdDelta: 0 });
    });
  });

  it("50 unshare PID + close rounds: each init ignores SIGCHLD as runChild answers (no orphan can turn into a zombie it never reaps); fds, runningChildren and children back to the start", async () => {
    const notIgnoring: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
      expect(r.keeper).toBeDefined();
      try {
        if (!ignoresSigchld(r.keeper!.pid)) notIgnoring.push(r.keeper!.pid);
      } finally {
        native.close(r.keeper!.fd);
        native.close(r.fds[0]);
      }
    }
    await waitFor(() => native.runningChildren() === 0, 2000, "all keepers reaped");
    expect(notIgnoring).toEqual([]);
    expect(newHoldings(baselineHeld())).toEqual([]);
    expect(childrenOf(process.pid)).toEqual([]);
  });
});
