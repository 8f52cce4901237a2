// In-process nsfs operations of the addon against the real kernel.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { nsInode, readOrNull, waitFor, waitForChild } from "../helpers/proc";

function expectNativeError(fn: () => unknown, code: string, syscall: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(native.NativeError);
  expect(caught).toMatchObject({ code, syscall });
  expect((caught as native.NativeError).errno).toBeGreaterThan(0);
}

describeRoot("native in-process nsfs operations", () => {
  it("nsStat of /proc/self/ns/<type> matches fs.statSync and NS_GET_NSTYPE for all 8 types", () => {
    expect(native.NS_TYPES.map((t) => t.name)).toEqual(["user", "cgroup", "ipc", "net", "mnt", "pid", "time", "uts"]);
    for (const { name, flag } of native.NS_TYPES) {
      const path = `/proc/self/ns/${name}`;
      const fd = native.openPath(path);
      try {
        const st = statSync(path, { bigint: true });
        expect(native.nsStat(fd)).toEqual({ ino: st.ino, dev: st.dev, nstype: flag });
        expect(native.nsStat(fd).dev).toBe(BigInt(execFileSync("stat", ["-L", "-c", "%d", path], { encoding: "utf8" }).trim()));
      } finally {
        native.close(fd);
      }
    }
  });

  it("openPath of a missing path is ENOENT, with the path in the message", () => {
    expectNativeError(() => native.openPath("/nonexistent/lxnsd"), "ENOENT", "open");
    expect(() => native.openPath("/nonexistent/lxnsd")).toThrow("open(/nonexistent/lxnsd): ENOENT (No such file or directory)");
  });

  it("nsStat of a regular file is ENOTTY from NS_GET_NSTYPE", () => {
    const fd = openSync("/proc/self/status", "r");
    try {
      expectNativeError(() => native.nsStat(fd), "ENOTTY", "ioctl(NS_GET_NSTYPE)");
    } finally {
      closeSync(fd);
    }
  });

  it("close of a closed fd is EBADF; bad arguments are TypeErrors", () => {
    const fd = native.openPath("/proc/self/ns/net");
    native.close(fd);
    expectNativeError(() => native.close(fd), "EBADF", "close");
    expect(() => native.close(-1)).toThrow(TypeError);
    expect(() => native.openPath("")).toThrow(TypeError);
    expect(() => native.pidfdOpen(0)).toThrow(TypeError);
  });

  it("the ioctls of the daemon's own namespaces keep errno", () => {
    const user = native.openPath("/proc/self/ns/user");
    const net = native.openPath("/proc/self/ns/net");
    try {
      expectNativeError(() => native.nsGetParent(user), "EPERM", "ioctl(NS_GET_PARENT)");
      expectNativeError(() => native.nsGetParent(net), "EINVAL", "ioctl(NS_GET_PARENT)");
      expectNativeError(() => native.nsGetOwnerUid(net), "EINVAL", "ioctl(NS_GET_OWNER_UID)");
      const owner = native.nsGetUserns(net);
      expect(native.nsStat(owner).ino).toBe(nsInode("self", "user"));
      native.close(owner);
    } finally {
      native.close(user);
      native.close(net);
    }
  });

  describe("a process in its own user and pid namespace", () => {
    let unshare: ChildProcess;
    let target: number;

    beforeAll(async () => {
      unshare = spawn("unshare", ["--user", "--map-root-user", "--pid", "--fork", "sleep", "60"], { stdio: "ignore" });
      target = await waitForChild(unshare.pid!);
      // Wait until the forked child has exec'd sleep (its namespaces are final).
      await waitFor(() => readOrNull(`/proc/${target}/comm`) === "sleep\n", 5000, "the forked child to exec sleep");
    });

    afterAll(() => {
      unshare?.kill("SIGKILL");
    });

    it("nsGetUserns, nsGetParent and nsGetOwnerUid agree with stat", () => {
      const user = native.openPath(`/proc/${target}/ns/user`);
      const pid = native.openPath(`/proc/${target}/ns/pid`);
      const opened: number[] = [user, pid];
      try {
        expect(native.nsStat(user).ino).toBe(nsInode(target, "user"));
        expect(native.nsStat(user).ino).not.toBe(nsInode("self", "user"));

        const owner = native.nsGetUserns(pid);
        opened.push(owner);
        expect(native.nsStat(owner).ino).toBe(nsInode(target, "user"));

        const pidParent = native.nsGetParent(pid);
        opened.push(pidParent);
        expect(native.nsStat(pidParent)).toMatchObject({ ino: nsInode("self", "pid"), nstype: native.CLONE_NEWPID });

        const userParent = native.nsGetParent(user);
        opened.push(userParent);
        expect(native.nsStat(userParent)).toMatchObject({ ino: nsInode("self", "user"), nstype: native.CLONE_NEWUSER });

        expect(native.nsGetOwnerUid(user)).toBe(process.geteuid!());
        expectNativeError(() => native.nsGetOwnerUid(pid), "EINVAL", "ioctl(NS_GET_OWNER_UID)");
      } finally {
        for (const fd of opened) native.close(fd);
      }
    });

    it("pidfdOpen opens a live pid and reports ESRCH for a gone one", () => {
      const fd = native.pidfdOpen(target);
      expect(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")).toMatch(new RegExp(`Pid:\\s+${target}\\b`));
      native.close(fd);
      expectNativeError(() => native.pidfdOpen(0x3fffffff), "ESRCH", "pidfd_open");
    });
  });
});
