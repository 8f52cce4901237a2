// spawnProgram failures against the real kernel: each rejects with the
// step and errno that failed, and leaves no fd, child, program or zombie;
// 200 joined runs leave none either.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, newHoldings } from "../helpers/fd-holdings";
import { childrenOf, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";

const { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWPID, CLONE_NEWUSER } = native;

function program(candidates: string[], extra: Partial<native.ProgramSpec> = {}): native.ProgramSpec {
  return { candidates, argv: ["prog"], env: [], ...extra };
}

async function expectRejects(p: Promise<unknown>, fields: Partial<native.NativeError>): Promise<native.NativeError> {
  const err = await p.then(
    (h) => {
      const handle = h as native.ExecHandle;
      handle.kill(9);
      for (const fd of [handle.stdin, handle.stdout, handle.stderr]) native.close(fd);
      throw new Error("expected a NativeError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(native.NativeError);
  expect(err).toMatchObject(fields);
  return err as native.NativeError;
}

describeRoot("native spawnProgram failures", () => {
  let baseline = new Set<string>();
  beforeEach(() => {
    baseline = fdHoldings();
  });
  afterEach(() => {
    // A rejection comes after everything was released: nothing to wait for.
    expect(native.runningChildren()).toBe(0);
    expect(newHoldings(baseline)).toEqual([]);
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it("a missing program: ENOENT at step 'execve'", async () => {
    const err = await expectRejects(native.spawnProgram({ exec: program(["/nonexistent"]) }), {
      code: "ENOENT",
      syscall: "execve",
      step: "execve",
    });
    expect(err.message).toBe("execve(/nonexistent): ENOENT (No such file or directory)");
  });

  it("a directory: EACCES, also when a later candidate is missing", async () => {
    await expectRejects(native.spawnProgram({ exec: program(["/tmp"]) }), { code: "EACCES", step: "execve" });
    await expectRejects(native.spawnProgram({ exec: program(["/tmp", "/nonexistent", "/etc/passwd/x"]) }), { code: "EACCES", step: "execve" });
    await expectRejects(native.spawnProgram({ exec: program(["/nonexistent", "/etc/passwd/x"]) }), { code: "ENOTDIR", step: "execve" });
  });

  it("a file that is not a program stops the search: ENOEXEC, not the next candidate", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-exec-"));
    const junk = path.join(dir, "junk");
    writeFileSync(junk, "\x00\x01\x02 not a program", { mode: 0o755 });
    try {
      await expectRejects(native.spawnProgram({ exec: program([junk, "/bin/true"]) }), { code: "ENOEXEC", step: "execve" });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("joining a net fd as UTS: EINVAL at step 'setns uts'", async () => {
    const net = native.openPath("/proc/self/ns/net");
    try {
      await expectRejects(native.spawnProgram({ join: [{ fd: net, nstype: CLONE_NEWUTS }], exec: program(["/bin/true"]) }), {
        code: "EINVAL",
        syscall: "setns",
        step: "setns uts",
      });
      // A namespace of the daemon's own user namespace: EINVAL as well.
      const user = native.openPath("/proc/self/ns/user");
      try {
        await expectRejects(native.spawnProgram({ join: [{ fd: user, nstype: CLONE_NEWUSER }], exec: program(["/bin/true"]) }), {
          code: "EINVAL",
          step: "setns user",
        });
      } finally {
        native.close(user);
      }
    } finally {
      native.close(net);
    }
  });

  it("a join that fails again after the user namespace's names that join: 'joined user namespace N, then setns uts'", async () => {
    // Two passes, as nsenter: the uts join (a net fd) fails in the first, the user join succeeds, the retry fails.
    const target = await startTarget(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "-r", "--"]);
    const user = native.openPath(`/proc/${target.pid}/ns/user`);
    const net = native.openPath("/proc/self/ns/net");
    try {
      const userId = native.nsStat(user).ino;
      const join = [{ fd: user, nstype: CLONE_NEWUSER }, { fd: net, nstype: CLONE_NEWUTS }];
      const err = await expectRejects(native.spawnProgram({ join, exec: program(["/bin/true"]) }), {
        code: "EINVAL",
        syscall: "setns",
        step: `joined user namespace ${userId}, then setns uts`,
      });
      expect(err.message).toBe(`setns(uts): EINVAL (joined user namespace ${userId}, then setns(uts) EINVAL: Invalid argument)`);
    } finally {
      native.close(user);
      native.close(net);
      await target.kill();
    }
  });

  it("joining the pid namespace of a process that is gone (pidfd): ESRCH at step 'setns pid'", async () => {
    const sleeper = spawn("sleep", ["100"], { stdio: "ignore" });
    const exited = new Promise((resolve) => sleeper.once("exit", resolve));
    const pidfd = native.pidfdOpen(sleeper.pid!);
    sleeper.kill("SIGKILL");
    await exited;
    try {
      await expectRejects(native.spawnProgram({ join: [{ fd: pidfd, nstype: CLONE_NEWPID }], exec: program(["/bin/true"]) }), {
        code: "ESRCH",
        syscall: "setns",
        step: "setns pid",
      });
    } finally {
      native.close(pidfd);
    }
  });

  it("a missing cwd: ENOENT at step 'chdir'", async () => {
    const err = await expectRejects(native.spawnProgram({ exec: program(["/bin/true"], { cwd: "/nonexistent/dir" }) }), {
      code: "ENOENT",
      syscall: "chdir",
      step: "chdir",
    });
    expect(err.message).toBe("chdir(/nonexistent/dir): ENOENT (No such file or directory)");
  });

  it("timeout and abort before the program runs: ETIMEDOUT, ECANCELED", async () => {
    await expectRejects(native.spawnProgram({ debugSleepMs: 5000, timeoutMs: 50, exec: program(["/bin/true"]) }), {
      code: "ETIMEDOUT",
      step: "debug sleep",
    });
    const ac = new AbortController();
    const p = native.spawnProgram({ debugSleepMs: 5000, exec: program(["/bin/true"]) }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expectRejects(p, { code: "ECANCELED", step: "debug sleep" });
    ac.abort();
    await expectRejects(native.spawnProgram({ exec: program(["/bin/true"]) }, { signal: ac.signal }), { code: "ECANCELED" });
  });

  it("refuses invalid specs before creating anything", () => {
    const exec = program(["/bin/true"]);
    expect(() => native.spawnProgram({ exec, holdNs: ["net"] })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec, readFile: { path: "/x", maxBytes: 1 } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec, writeFile: { path: "/x", data: "" } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, mountProc: true }, unshareFlags: CLONE_NEWPID })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, argv: [] } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, candidates: [] } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, candidates: ["true"] } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, env: ["A=\0"] } })).toThrow(TypeError);
    expect(() => native.spawnProgram({ exec: { ...exec, uid: -1 } })).toThrow(RangeError);
  });

  it("200 programs joined to net+uts (concurrency 8) leave no fd, child or zombie", async () => {
    const net = native.openPath("/proc/self/ns/net");
    const uts = native.openPath("/proc/self/ns/uts");
    const start = fdHoldings();
    const join = [
      { fd: net, nstype: CLONE_NEWNET },
      { fd: uts, nstype: CLONE_NEWUTS },
    ];
    const exits: native.ProgramExit[] = [];
    const one = async (): Promise<void> => {
      const h = await native.spawnProgram({ join, exec: program(["/bin/true"], { argv: ["true"] }) });
      for (const fd of [h.stdin, h.stdout, h.stderr]) native.close(fd);
      exits.push(await h.exited);
    };
    for (let i = 0; i < 200; i += 8) await Promise.all(Array.from({ length: 8 }, one));
    expect(exits).toHaveLength(200);
    expect(exits.every((e) => e.code === 0)).toBe(true);
    await waitFor(() => native.runningChildren() === 0, 2000, "runningChildren() == 0");
    expect(newHoldings(start)).toEqual([]);
    expect(childrenOf(process.pid)).toEqual([]);
    native.close(net);
    native.close(uts);
  });
});
