// The child's target context (spec.target) against the real kernel: a
// program runs as the target process does (ids, groups, capability sets,
// no_new_privs, cgroups, every namespace), and each target step names
// itself when it fails.
import { openSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { randomBytes } from "node:crypto";

import * as native from "../../native/lib";
import { makeCgroup } from "../helpers/cgroup";
import { countFds, nsInode, statusField, waitFor } from "../helpers/proc";
import { describeRoot } from "../helpers/privileged";
import { startTarget, type Target } from "../helpers/targets";

const NS_NAMES = ["user", "cgroup", "ipc", "net", "mnt", "pid", "time", "uts"];

function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

async function runAs(target: native.ChildTarget, script: string, spec: Partial<native.SpawnSpec> = {}) {
  const h = await native.spawnProgram({ ...spec, target, exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", script], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] } });
  native.close(h.stdin);
  const [stdout, stderr, exit] = await Promise.all([readAll(h.stdout), readAll(h.stderr), h.exited]);
  return { stdout, stderr, exit, pid: h.pid };
}

/** The lines of a /proc status text for the fields a target passes on. */
function credentials(status: string): string[] {
  return status.split("\n").filter((line) => /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):/.test(line));
}

const SCRIPT = 'cat /proc/self/status; echo ---; cat /proc/self/cgroup; echo ---; for n in user cgroup ipc net mnt pid time uts; do readlink /proc/self/ns/$n; done; readlink /proc/self/ns/pid_for_children';

describeRoot("native target context", () => {
  // (the targets are this process's children: only the addon's must be gone)
  afterEach(async () => {
    await waitFor(() => native.runningChildren() === 0, 2000, "runningChildren() == 0");
  });
  let cgroup: ReturnType<typeof makeCgroup>;
  let nobody: Target;

  beforeAll(async () => {
    cgroup = makeCgroup(`lxnsd-target-${randomBytes(4).toString("hex")}`);
    nobody = await startTarget(["unshare", "--net", "--uts", "--ipc", "--mount", "--pid", "--fork", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--bounding-set=-all", "--no-new-privs"]);
    cgroup.add(nobody.pid);
  });

  afterAll(async () => {
    await nobody?.kill();
    cgroup?.remove();
  });

  it("runs the program as the target: ids, groups, capability sets, no_new_privs, cgroups and every namespace", async () => {
    const ctx = native.openTarget(nobody.pid);
    let out;
    try {
      expect(ctx.spec.nsFlags & native.CLONE_NEWPID).toBe(native.CLONE_NEWPID);
      out = await runAs(ctx.spec, SCRIPT);
    } finally {
      ctx.close();
    }
    expect(out.stderr).toBe("");
    expect(out.exit).toEqual({ code: 0 });
    const [status, cgroups, links] = out.stdout.split("---\n");
    expect(credentials(status)).toEqual(credentials(readFileSync(`/proc/${nobody.pid}/status`, "utf8")));
    expect(statusField(nobody.pid, "Uid")).toMatch(/^65534\s/);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(cgroups).toBe(readFileSync(`/proc/${nobody.pid}/cgroup`, "utf8"));
    expect(cgroups).toContain(`0::${cgroup.path}\n`);
    const expected = NS_NAMES.map((name) => `${name}:[${nsInode(nobody.pid, name)}]`);
    expect(links.trim().split("\n")).toEqual([...expected, `pid:[${nsInode(nobody.pid, "pid")}]`]);
  });

  it("a step that fails names itself: join target cgroups, setns target, take target capabilities", async () => {
    const ctx = native.openTarget(nobody.pid);
    const devNull = openSync("/dev/null", "r");
    try {
      const cgroupStep = await runAs({ ...ctx.spec, cgroupProcsFds: [devNull] }, "true").catch((e: unknown) => e);
      expect(cgroupStep).toMatchObject({ code: "EBADF", step: "join target cgroups", syscall: "write" });
      const capStep = await runAs({ ...ctx.spec, caps: { ...ctx.spec.caps, ambient: 1n } }, "true").catch((e: unknown) => e);
      expect(capStep).toMatchObject({ code: "EPERM", step: "take target capabilities", syscall: "prctl(PR_CAP_AMBIENT)" });
    } finally {
      native.close(devNull);
      ctx.close();
    }
    const gone = await startTarget(["unshare", "--net"]);
    const stale = native.openTarget(gone.pid);
    try {
      await gone.kill();
      await waitFor(() => !native.pidfdAlive(stale.spec.pidfd), 2000, "target gone");
      const setnsStep = await runAs(stale.spec, "true").catch((e: unknown) => e);
      expect(setnsStep).toMatchObject({ code: "ESRCH", step: "setns target", syscall: "setns" });
    } finally {
      stale.close();
    }
  });

  it("a target in a time namespace and a pid namespace with its own /proc: a fork-style child enters it, clock offsets go through the daemon's /proc", async () => {
    const timed = await startTarget(["unshare", "--time", "--pid", "--fork", "--mount", "--mount-proc"]);
    try {
      const ctx = native.openTarget(timed.pid);
      try {
        expect(ctx.spec.nsFlags & native.CLONE_NEWTIME).toBe(native.CLONE_NEWTIME);
        const out = await runAs(ctx.spec, "readlink /proc/self/ns/time");
        expect(out.stdout).toBe(`time:[${nsInode(timed.pid, "time")}]\n`);
        const held = await native.runChild({ target: ctx.spec, unshareFlags: native.CLONE_NEWTIME, timensOffsets: "boottime 86400 0\n", holdNs: ["time_for_children"] });
        held.fds.forEach((fd) => native.close(fd));
      } finally {
        ctx.close();
      }
    } finally {
      await timed.kill();
    }
  });

  it("openTarget refuses a process that is gone (ESRCH), leaving no fd", async () => {
    const gone = await startTarget(["unshare", "--net"]);
    const pid = gone.pid;
    await gone.kill();
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 2000, "reaped");
    const before = countFds();
    expect(() => native.openTarget(pid)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(countFds()).toBe(before);
  });
});
