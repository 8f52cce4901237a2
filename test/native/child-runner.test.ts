// runChild against the real kernel: the per-request namespace child.
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, fdPath, nsInode, waitFor } from "../helpers/proc";

const { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWTIME } = native;

async function readIn(join: native.ChildJoin[], path: string): Promise<string> {
  const result = await native.runChild({ join, readFile: { path, maxBytes: 4096 } });
  expect(result.fds).toEqual([]);
  return result.data!.toString("utf8");
}

async function expectRejects(p: Promise<unknown>, fields: Partial<native.NativeError>): Promise<native.NativeError> {
  const err = await p.then(
    () => {
      throw new Error("expected a NativeError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(native.NativeError);
  expect(err).toMatchObject(fields);
  return err as native.NativeError;
}

/** The pid of our per-request child once it has unshared its net namespace (its next step is the debug sleep). */
async function childPastUnshare(): Promise<number> {
  let pid = 0;
  await waitFor(() => {
    const own = readlinkSync("/proc/self/ns/net");
    pid = childrenOf(process.pid).find((child) => ![null, own].includes(netOf(child.pid)))?.pid ?? 0;
    return pid !== 0;
  }, 5000, "the child to unshare its net namespace");
  return pid;
}

function netOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

describeRoot("native runChild", () => {
  const opened: number[] = [];
  const hold = (fds: number[]): number[] => {
    opened.push(...fds);
    return fds;
  };
  afterEach(async () => {
    for (const fd of opened.splice(0)) native.close(fd);
    // A closed keeper fd ends its init asynchronously (reaped on the loop).
    for (let i = 0; i < 100 && native.runningChildren() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(native.runningChildren()).toBe(0);
  });

  it("unshares NET|UTS, sets the hostname and brings lo up, and holds both", async () => {
    const result = await native.runChild({
      unshareFlags: CLONE_NEWNET | CLONE_NEWUTS,
      hostname: "lxnsd-test",
      loopbackUp: true,
      holdNs: ["net", "uts"],
    });
    const [net, uts] = hold(result.fds);
    expect(result.pid).toBeGreaterThan(0);
    expect(native.nsStat(net)).toMatchObject({ nstype: CLONE_NEWNET });
    expect(native.nsStat(uts)).toMatchObject({ nstype: CLONE_NEWUTS });
    expect(native.nsStat(net).ino).not.toBe(nsInode("self", "net"));
    expect(native.nsStat(uts).ino).not.toBe(nsInode("self", "uts"));
    expect(readFileSync("/proc/sys/kernel/hostname", "utf8")).not.toBe("lxnsd-test\n");

    expect(await readIn([{ fd: uts, nstype: CLONE_NEWUTS }], "/proc/sys/kernel/hostname")).toBe("lxnsd-test\n");
    const lo = execFileSync("nsenter", [`--net=${fdPath(net)}`, "ip", "-o", "link", "show", "lo"], { encoding: "utf8" });
    expect(lo).toMatch(/<[^>]*\bUP\b[^>]*>/);
  });

  it("leaves lo down without loopbackUp (the check above can fail)", async () => {
    const [net] = hold((await native.runChild({ unshareFlags: CLONE_NEWNET, holdNs: ["net"] })).fds);
    const lo = execFileSync("nsenter", [`--net=${fdPath(net)}`, "ip", "-o", "link", "show", "lo"], { encoding: "utf8" });
    expect(lo).not.toMatch(/<[^>]*\bUP\b[^>]*>/);
  });

  it.each([
    ["0 0 1", "0 0 1"],
    ["0 100000 65536", "0 100000 65536"],
    ["0 100000 1000\n1000 0 1\n", "0 100000 1000\n1000 0 1"],
  ])("unshares USER with the map %j written by the parent", async (map, shown) => {
    const [user] = hold(
      (await native.runChild({
        unshareFlags: CLONE_NEWUSER,
        idMap: { uidMap: map, gidMap: map, setgroups: "deny" },
        holdNs: ["user"],
      })).fds,
    );
    expect(native.nsStat(user)).toMatchObject({ nstype: CLONE_NEWUSER });
    const join = [{ fd: user, nstype: CLONE_NEWUSER }];
    const norm = (s: string): string => s.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" ")).join("\n");
    expect(norm(await readIn(join, "/proc/self/uid_map"))).toBe(shown);
    expect(norm(await readIn(join, "/proc/self/gid_map"))).toBe(shown);
    expect((await readIn(join, "/proc/self/setgroups")).trim()).toBe("deny");
  });

  it("unshares PID and TIME with boottime offsets and holds both *_for_children", async () => {
    const result = await native.runChild({
      unshareFlags: CLONE_NEWPID | CLONE_NEWTIME,
      timensOffsets: "monotonic 5 0\nboottime 3600 0\n",
      holdNs: ["pid_for_children", "time_for_children"],
    });
    const [pid, time] = hold(result.fds);
    // The pid namespace comes with its keeper init (test/native/pid-keeper.test.ts),
    // created after the offsets were written: it is in the new time namespace.
    hold([result.keeper!.fd]);
    expect(nsInode(result.keeper!.pid, "time")).toBe(native.nsStat(time).ino);
    expect(native.nsStat(pid)).toMatchObject({ nstype: CLONE_NEWPID });
    expect(native.nsStat(time)).toMatchObject({ nstype: CLONE_NEWTIME });
    expect(native.nsStat(pid).ino).not.toBe(nsInode("self", "pid"));
    expect(native.nsStat(time).ino).not.toBe(nsInode("self", "time"));

    const local = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const shifted = Number(execFileSync("nsenter", [`--time=${fdPath(time)}`, "cat", "/proc/uptime"], { encoding: "utf8" }).split(" ")[0]);
    expect(Math.abs(shifted - local - 3600)).toBeLessThan(5);
    // Joining a time namespace goes through a fork-style child (see below).
    const viaChild = Number((await readIn([{ fd: time, nstype: CLONE_NEWTIME }], "/proc/uptime")).split(" ")[0]);
    expect(Math.abs(viaChild - local - 3600)).toBeLessThan(5);
  });

  it("sets a limit inside a new user namespace only (the lxns limit case)", async () => {
    const before = readFileSync("/proc/sys/user/max_user_namespaces", "utf8");
    const [user] = hold(
      (await native.runChild({ unshareFlags: CLONE_NEWUSER, idMap: { uidMap: "0 0 1", gidMap: "0 0 1", setgroups: "deny" }, holdNs: ["user"] })).fds,
    );
    const join = [{ fd: user, nstype: CLONE_NEWUSER }];
    const written = await native.runChild({ join, writeFile: { path: "/proc/sys/user/max_user_namespaces", data: "0" } });
    expect(written.fds).toEqual([]);
    expect((await readIn(join, "/proc/sys/user/max_user_namespaces")).trim()).toBe("0");
    expect(readFileSync("/proc/sys/user/max_user_namespaces", "utf8")).toBe(before);
    expect(Number(before)).toBeGreaterThan(0);
  });

  describe("clone modes (why some children are fork-style)", () => {
    it("a CLONE_VM child cannot join a time namespace: EUSERS; auto picks fork-style", async () => {
      const time = native.openPath("/proc/self/ns/time");
      opened.push(time);
      const join = [{ fd: time, nstype: CLONE_NEWTIME }];
      const err = await expectRejects(native.runChild({ join, debugCloneMode: "vm" }), { code: "EUSERS", syscall: "setns", step: "setns time" });
      expect(err.message).toBe("setns(time): EUSERS (Too many users)");
      await native.runChild({ join, debugCloneMode: "auto" });
      await native.runChild({ join, debugCloneMode: "fork" });
    });

    it("a CLONE_VM child can unshare USER (maps written) and join it, and unshare TIME", async () => {
      const [user] = hold(
        (await native.runChild({
          debugCloneMode: "vm",
          unshareFlags: CLONE_NEWUSER,
          idMap: { uidMap: "0 0 1", gidMap: "", setgroups: "deny" },
          holdNs: ["user"],
        })).fds,
      );
      const r = await native.runChild({ debugCloneMode: "vm", join: [{ fd: user, nstype: CLONE_NEWUSER }], readFile: { path: "/proc/self/uid_map", maxBytes: 100 } });
      expect(r.data!.toString().trim().split(/\s+/)).toEqual(["0", "0", "1"]);
      const [time] = hold((await native.runChild({ debugCloneMode: "vm", unshareFlags: CLONE_NEWTIME, timensOffsets: "boottime 10 0\n", holdNs: ["time_for_children"] })).fds);
      expect(native.nsStat(time).ino).not.toBe(nsInode("self", "time"));
    });
  });

  describe("failures", () => {
    it("joining a net fd as UTS is EINVAL at step 'setns uts'", async () => {
      const net = native.openPath("/proc/self/ns/net");
      opened.push(net);
      const err = await expectRejects(native.runChild({ join: [{ fd: net, nstype: CLONE_NEWUTS }] }), {
        code: "EINVAL",
        errno: 22,
        syscall: "setns",
        step: "setns uts",
      });
      expect(err.message).toBe("setns(uts): EINVAL (Invalid argument)");
    });

    it("writeFile to a missing path is ENOENT at step 'write file'", async () => {
      await expectRejects(native.runChild({ writeFile: { path: "/nonexistent/lxnsd", data: "x" } }), {
        code: "ENOENT",
        syscall: "open",
        step: "write file",
      });
    });

    it("a bad map fails in the parent (write uid_map), kills the child and holds nothing", async () => {
      await expectRejects(
        native.runChild({ unshareFlags: CLONE_NEWUSER, idMap: { uidMap: "garbage", gidMap: "", setgroups: "deny" }, holdNs: ["user"] }),
        { code: "EINVAL", syscall: "write(uid_map)", step: "write uid_map" },
      );
    });

    it("a child past its timeout is killed: ETIMEDOUT with the step it was in", async () => {
      const started = Date.now();
      await expectRejects(native.runChild({ debugSleepMs: 5000, timeoutMs: 100 }), {
        code: "ETIMEDOUT",
        syscall: "runChild",
        step: "debug sleep",
      });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it("a child killed from outside is reported as ECHILD 'child died: signal 9'", async () => {
      const p = native.runChild({ debugSleepMs: 5000, unshareFlags: CLONE_NEWNET, holdNs: ["net"] });
      const child = await childPastUnshare();
      process.kill(child, "SIGKILL");
      await expectRejects(p, { code: "ECHILD", step: "child died: signal 9" });
    });

    it("aborting kills the child: ECANCELED", async () => {
      const ac = new AbortController();
      const p = native.runChild({ debugSleepMs: 5000, unshareFlags: CLONE_NEWNET }, { signal: ac.signal });
      await childPastUnshare();
      ac.abort();
      await expectRejects(p, { code: "ECANCELED", syscall: "runChild", step: "debug sleep" });
    });

    it("rejects invalid specs before creating anything", () => {
      expect(() => native.runChild({ holdNs: ["../../etc"] })).toThrow(TypeError);
      expect(() => native.runChild({ join: [{ fd: 3, nstype: 0 }] })).toThrow(TypeError);
      expect(() => native.runChild({ readFile: { path: "/x", maxBytes: 1 << 30 } })).toThrow(RangeError);
      expect(() => native.runChild({ idMap: { uidMap: "0 0 1", gidMap: "", setgroups: "deny" } })).toThrow(TypeError);
    });
  });
});
