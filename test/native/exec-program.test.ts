// spawnProgram against the real kernel: a program started in a per-request
// child's namespaces, its stdio pipes, its exit status, and its end.
import { readFileSync, readlinkSync } from "node:fs";
import * as net from "node:net";

import * as native from "../../native/lib";
import { checkNativeLeaksAfterEach } from "../helpers/native";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, processState, readOrNull, waitFor } from "../helpers/proc";
import { startTarget, type Target } from "../helpers/targets";
import { processesWith } from "../reliability/support/markers";

const { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME } = native;
const ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];

/** Dead: gone, or a zombie waiting for the host's init (an orphan's reaper here is slow). */
const dead = (pid: number): boolean => [null, "Z"].includes(processState(pid));

/** Everything read from a non-blocking pipe read end until EOF (the socket closes the fd). */
function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/** The first line a program writes (the socket is destroyed, closing the fd). */
function firstLine(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("\n")) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf("\n")));
      }
    });
    socket.on("error", reject);
  });
}

interface Output {
  stdout: string;
  stderr: string;
  exit: native.ProgramExit;
}

/** Runs argv (argv[0] an absolute path) with stdin closed, to the end. */
async function run(argv: string[], spec: Partial<native.SpawnSpec> = {}, exec: Partial<native.ProgramSpec> = {}): Promise<Output> {
  const h = await native.spawnProgram({ ...spec, exec: { candidates: [argv[0]], argv, env: ENV, ...exec } });
  native.close(h.stdin);
  const [stdout, stderr, exit] = await Promise.all([readAll(h.stdout), readAll(h.stderr), h.exited]);
  return { stdout, stderr, exit };
}

describeRoot("native spawnProgram", () => {
  checkNativeLeaksAfterEach();

  it("pipes stdout and stderr and reports the exit code", async () => {
    const out = await run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(out).toEqual({ stdout: "out\n", stderr: "err\n", exit: { code: 3 } });
  });

  it("resolves with the pid and pgid of the program and the daemon's pipe ends", async () => {
    const h = await native.spawnProgram({ exec: { candidates: ["/bin/sleep"], argv: ["sleep", "100"], env: [] } });
    const exited = h.exited;
    try {
      expect(h.pgid).toBe(h.pid);
      expect(childrenOf(process.pid).map((c) => c.pid)).toEqual([h.pid]); // no process in between
      // (resolved at execve's point of no return, a moment before comm changes)
      await waitFor(() => readOrNull(`/proc/${h.pid}/comm`) === "sleep\n", 2000, "comm sleep");
      expect(readFileSync(`/proc/${h.pid}/stat`, "utf8").split(") ")[1].split(" ")[2]).toBe(String(h.pid)); // pgrp
      for (const [fd, mode] of [[h.stdin, "w"], [h.stdout, "r"], [h.stderr, "r"]] as const) {
        expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^pipe:/);
        const flags = parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1], 8); // octal
        expect(flags & 0o4000).toBe(0o4000); // O_NONBLOCK
        expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
        expect(flags & 3).toBe(mode === "w" ? 1 : 0);
      }
    } finally {
      h.kill(9);
      for (const fd of [h.stdin, h.stdout, h.stderr]) native.close(fd);
    }
    expect(await exited).toEqual({ signal: 9 });
    h.kill(15); // a no-op after exit
  });

  it("gives the program fds 0-2 only, default signal dispositions and an empty mask", async () => {
    const fds = await run(["/bin/ls", "/proc/self/fd"]);
    expect(fds.stdout.split("\n").filter(Boolean)).toEqual(["0", "1", "2", "3"]); // 3: ls's own directory fd
    const status = (await run(["/bin/cat", "/proc/self/status"])).stdout;
    for (const field of ["SigIgn", "SigBlk", "SigCgt"]) expect(status).toMatch(new RegExp(`^${field}:\\s+0+$`, "m"));
    expect(readFileSync("/proc/self/status", "utf8")).not.toMatch(/^SigIgn:\s+0+$/m); // Node ignores SIGPIPE
    // Its ends of the pipes block (only the daemon's are O_NONBLOCK).
    const flags = (await run(["/bin/sh", "-c", "for fd in 0 1 2; do grep ^flags: /proc/self/fdinfo/$fd; done"])).stdout;
    expect(flags.trim().split("\n").map((line) => parseInt(line.split(/\s+/)[1], 8) & 0o4000)).toEqual([0, 0, 0]);
  });

  it("passes argv and envp exactly and tries the candidates in order", async () => {
    const out = await run(["/bin/sh", "-c", 'echo "$0"; env'], {}, { argv: ["custom-zero", "-c", 'echo "$0"; env'], env: ["A=1", "B=two words"] });
    expect(out.stdout.split("\n")[0]).toBe("custom-zero");
    expect(out.stdout).toMatch(/^A=1$/m);
    expect(out.stdout).toMatch(/^B=two words$/m);
    expect(out.stdout).not.toMatch(/^PATH=/m);
    const next = await run(["/nonexistent/sh", "-c", "echo second"], {}, { candidates: ["/nonexistent/sh", "/etc/passwd/sh", "/bin/sh"] });
    expect(next).toEqual({ stdout: "second\n", stderr: "", exit: { code: 0 } });
  });

  it("changes to cwd and to uid/gid 65534 with no supplementary groups", async () => {
    expect((await run(["/bin/pwd"], {}, { cwd: "/tmp" })).stdout).toBe("/tmp\n");
    const ids = await run(["/bin/sh", "-c", "id -u; id -g; id -G"], {}, { uid: 65534, gid: 65534 });
    expect(ids.stdout).toBe("65534\n65534\n65534\n");
  });

  it("feeds stdin: cat echoes it and exits 0 at EOF", async () => {
    const h = await native.spawnProgram({ exec: { candidates: ["/bin/cat"], argv: ["cat"], env: [] } });
    const stdin = new net.Socket({ fd: h.stdin, readable: false, writable: true });
    const output = readAll(h.stdout);
    stdin.write("hello\n");
    stdin.end("world\n");
    expect(await output).toBe("hello\nworld\n");
    expect(await h.exited).toEqual({ code: 0 });
    native.close(h.stderr);
  });

  it("collectOutput: the addon reads stdout and stderr to EOF, keeping the first N bytes of each", async () => {
    const collect = async (script: string, cap: number, spec: Partial<native.SpawnSpec> = {}) => {
      const h = await native.spawnProgram({ ...spec, exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", script], env: ENV, collectOutput: cap } });
      expect([h.stdout, h.stderr]).toEqual([-1, -1]);
      native.close(h.stdin);
      const exit = await h.exited;
      return { ...exit, stdout: exit.stdout?.toString("latin1"), stderr: exit.stderr?.toString("latin1") };
    };
    expect(await collect("echo out; echo err >&2; exit 3", 100)).toEqual({ code: 3, stdout: "out\n", stderr: "err\n", truncated: false });
    // Read on past the cap to EOF (a program writing 1 MiB never blocks on a full pipe).
    expect(await collect("head -c 1048576 /dev/zero; echo e >&2", 10)).toEqual({ code: 0, stdout: "\0".repeat(10), stderr: "e\n", truncated: true });
    expect(await collect("printf 12345", 5)).toEqual({ code: 0, stdout: "12345", stderr: "", truncated: false });
    // A background job holding stdout dies with the group at the program's exit: then EOF.
    expect(await collect("sleep 100 & echo started", 100)).toEqual({ code: 0, stdout: "started\n", stderr: "", truncated: false });
    // A program of its own (a new pid namespace) as well.
    expect(await collect("echo $$", 100, { unshareFlags: CLONE_NEWPID })).toEqual({ code: 0, stdout: "1\n", stderr: "", truncated: false });
    expect(() => native.spawnProgram({ exec: { candidates: ["/bin/true"], argv: ["true"], env: [], collectOutput: -1 } })).toThrow(RangeError);
  });

  it("collectOutput of a program already over when the daemon looks: the same answer, nothing left", async () => {
    // Blocking the loop right after the spawn, until the program is a zombie (our child: the per-request
    // child became it), makes the daemon see the program only once it has exited.
    const spawnAndBlock = (script: string, alsoUntil: () => boolean = () => true) => {
      const before = new Set(childrenOf(process.pid).map((child) => child.pid));
      const p = native.spawnProgram({ exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", script], env: ENV, collectOutput: 100 } });
      const until = Date.now() + 5000;
      while (!(childrenOf(process.pid).some((child) => !before.has(child.pid) && child.state === "Z") && alsoUntil())) {
        if (Date.now() > until) throw new Error("the program did not exit within 5 s");
      }
      return p;
    };
    const quick = await spawnAndBlock("echo out; echo err >&2; exit 4");
    native.close(quick.stdin);
    const exit = await quick.exited;
    expect({ ...exit, stdout: exit.stdout?.toString(), stderr: exit.stderr?.toString() }).toEqual({ code: 4, stdout: "out\n", stderr: "err\n", truncated: false });
    // A process that left the group (setsid) still holds stdout: its EOF comes later, and is waited for.
    const started = Date.now();
    // Its sleep (a unique duration just over 0.5 s) runs once setsid has moved it out of the group.
    const half = `0.5${process.pid}${Date.now() % 100000}`;
    const held = await spawnAndBlock(`setsid sh -c 'sleep ${half}; echo late' & echo early`, () => processesWith(half).some((pid) => readOrNull(`/proc/${pid}/comm`) === "sleep\n"));
    native.close(held.stdin);
    const heldExit = await held.exited;
    expect(heldExit.stdout?.toString()).toBe("early\nlate\n");
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  describe("in namespaces", () => {
    let target: Target | undefined;
    afterEach(async () => {
      await target?.kill();
      target = undefined;
    });

    it("joins a target's uts and net namespaces (nsfs fds and a pidfd)", async () => {
      target = await startTarget(["unshare", "--net", "--uts", "sh", "-c", 'hostname tgt; exec "$@"', "sh"]);
      const targetNet = readlinkSync(`/proc/${target.pid}/ns/net`);
      expect(targetNet).not.toBe(readlinkSync("/proc/self/ns/net"));
      const net = native.openPath(`/proc/${target.pid}/ns/net`);
      const uts = native.openPath(`/proc/${target.pid}/ns/uts`);
      const pidfd = native.pidfdOpen(target.pid);
      try {
        const script = ["/bin/sh", "-c", "hostname; readlink /proc/self/ns/net"];
        const viaNsfs = await run(script, { join: [{ fd: net, nstype: CLONE_NEWNET }, { fd: uts, nstype: CLONE_NEWUTS }] });
        expect(viaNsfs).toEqual({ stdout: `tgt\n${targetNet}\n`, stderr: "", exit: { code: 0 } });
        const viaPidfd = await run(script, { join: [{ fd: pidfd, nstype: CLONE_NEWNET | CLONE_NEWUTS }] });
        expect(viaPidfd.stdout).toBe(`tgt\n${targetNet}\n`);
      } finally {
        for (const fd of [net, uts, pidfd]) native.close(fd);
      }
    });

    it("unshares PID|MNT with mountProc: pid 1, alone in its /proc; the daemon's /proc untouched", async () => {
      const out = await run(["/bin/sh", "-c", 'echo $$; for p in /proc/[0-9]*; do echo "${p#/proc/}"; done; readlink /proc/self/ns/mnt'], {
        unshareFlags: CLONE_NEWPID | CLONE_NEWNS,
      }, { mountProc: true });
      const [self, ...rest] = out.stdout.trim().split("\n");
      expect(self).toBe("1");
      expect(rest.slice(0, -1)).toEqual(["1"]); // the loop is a builtin: no other process
      expect(rest[rest.length - 1]).not.toBe(readlinkSync("/proc/self/ns/mnt"));
      expect(out.exit).toEqual({ code: 0 });
      expect(readlinkSync("/proc/self")).toBe(String(process.pid));
    });

    it("unshares TIME with a boottime offset of 86400", async () => {
      const local = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
      const out = await run(["/bin/cat", "/proc/uptime"], { unshareFlags: CLONE_NEWTIME, timensOffsets: "boottime 86400 0\n" });
      expect(Math.abs(Number(out.stdout.split(" ")[0]) - local - 86400)).toBeLessThan(5);
    });

    it("joins a held time namespace (a fork-style child)", async () => {
      const held = await native.runChild({ unshareFlags: CLONE_NEWTIME, timensOffsets: "boottime 7200 0\n", holdNs: ["time_for_children"] });
      const [time] = held.fds;
      try {
        const local = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
        const out = await run(["/bin/cat", "/proc/uptime"], { join: [{ fd: time, nstype: CLONE_NEWTIME }] });
        expect(Math.abs(Number(out.stdout.split(" ")[0]) - local - 7200)).toBeLessThan(5);
      } finally {
        native.close(time);
      }
    });
  });

  describe("ending a program", () => {
    const closeAll = (h: native.ExecHandle): void => [h.stdin, h.stdout, h.stderr].forEach((fd) => native.close(fd));
    const sleep100 = { candidates: ["/bin/sleep"], argv: ["sleep", "100"], env: [] };

    it("kill(SIGTERM) ends it with signal 15", async () => {
      const h = await native.spawnProgram({ exec: sleep100 });
      closeAll(h);
      h.kill(15);
      expect(await h.exited).toEqual({ signal: 15 });
    });

    it("exec.timeoutMs bounds its lifetime: SIGKILL, {signal: 9, timedOut: true}", async () => {
      const started = Date.now();
      const h = await native.spawnProgram({ exec: { ...sleep100, timeoutMs: 200 } });
      closeAll(h);
      expect(await h.exited).toEqual({ signal: 9, timedOut: true });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(150);
      expect(elapsed).toBeLessThan(3000);
    });

    it("abort after start SIGKILLs it: {signal: 9}", async () => {
      const ac = new AbortController();
      const h = await native.spawnProgram({ exec: sleep100 }, { signal: ac.signal });
      closeAll(h);
      ac.abort();
      expect(await h.exited).toEqual({ signal: 9 });
    });

    it("the group kill takes a background child too", async () => {
      const h = await native.spawnProgram({ exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", "sleep 100 & echo $!; wait"], env: ENV } });
      const background = Number(await firstLine(h.stdout));
      native.close(h.stdin);
      native.close(h.stderr);
      // (the background child may not have exec'd sleep yet)
      await waitFor(() => readOrNull(`/proc/${background}/comm`) === "sleep\n", 2000, "the background sleep").catch((err: Error) => {
        h.kill(9);
        throw err;
      });
      h.kill(15);
      expect(await h.exited).toEqual({ signal: 15 });
      await waitFor(() => dead(background), 2000, `background sleep ${background} to be gone`);
    });

    it("what the program leaves behind in its group is killed when it exits", async () => {
      const h = await native.spawnProgram({ exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", "sleep 100 & echo $!"], env: ENV } });
      native.close(h.stdin);
      native.close(h.stderr);
      const stdout = readAll(h.stdout); // EOF only once the background sleep is gone too
      expect(await h.exited).toEqual({ code: 0 });
      const background = Number((await stdout).trim());
      expect(background).toBeGreaterThan(0);
      await waitFor(() => dead(background), 2000, `background sleep ${background} to be gone`);
    });
  });
});
