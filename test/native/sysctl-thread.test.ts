// native sysctlOnThread against the real kernel: a new thread joins a net,
// uts or ipc namespace, writes and reads back a /proc/sys file, and ends.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

import * as native from "../../native/lib";
import { raw } from "../../native/lib/addon";
import { describeRoot } from "../helpers/privileged";
import { countFds, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

const threadsIn = (type: string, link: string) =>
  readdirSync("/proc/self/task").filter((tid) => {
    try {
      return readlinkSync(`/proc/self/task/${tid}/ns/${type}`) === link;
    } catch {
      return false;
    }
  }).length;

describeRoot("native sysctlOnThread", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget(["unshare", "--net", "--uts"]);
  });
  afterAll(async () => {
    await target?.kill();
  });

  it("writes and reads back in the namespace of the fd only, and closes its copy of the fd", async () => {
    const fd = native.openPath(`/proc/${target.pid}/ns/uts`);
    const fds = countFds();
    try {
      const value = await native.sysctlOnThread({ fd, nstype: native.CLONE_NEWUTS, path: "/proc/sys/kernel/hostname", data: "thread-box\n", maxBytes: 4096 });
      expect(value.toString()).toBe("thread-box\n");
      expect(execFileSync("nsenter", ["-t", String(target.pid), "-u", "hostname"], { encoding: "utf8" }).trim()).toBe("thread-box");
      expect(readFileSync("/proc/sys/kernel/hostname", "utf8")).not.toBe("thread-box\n");
      expect(countFds()).toBe(fds);
      const link = readlinkSync(`/proc/${target.pid}/ns/uts`);
      await waitFor(() => threadsIn("uts", link) === 0, 2000, "the thread to end");
    } finally {
      native.close(fd);
    }
  });

  it("fails as the child's steps would", async () => {
    const fd = native.openPath(`/proc/${target.pid}/ns/net`);
    try {
      await expect(native.sysctlOnThread({ fd, nstype: native.CLONE_NEWNET, path: "/proc/sys/net/ipv4/ip_forward", data: "x\n", maxBytes: 4096 })).rejects.toMatchObject({ code: "EINVAL", syscall: "write", step: "write file" });
      await expect(native.sysctlOnThread({ fd, nstype: native.CLONE_NEWNET, path: "/proc/sys/net/ipv4/nothing", maxBytes: 4096 })).rejects.toMatchObject({ code: "ENOENT", syscall: "open", step: "read file" });
      // The fd is a net namespace: joining it as uts is refused by the kernel.
      await expect(native.sysctlOnThread({ fd, nstype: native.CLONE_NEWUTS, path: "/proc/sys/kernel/hostname", maxBytes: 4096 })).rejects.toMatchObject({ code: "EINVAL", syscall: "setns", step: "setns uts" });
    } finally {
      native.close(fd);
    }
  });

  it("never joins a mount, user, pid, cgroup or time namespace (a thread must not)", () => {
    for (const nstype of [native.CLONE_NEWNS, native.CLONE_NEWUSER, native.CLONE_NEWPID, native.CLONE_NEWCGROUP, native.CLONE_NEWTIME, native.CLONE_NEWNET | native.CLONE_NEWUTS]) {
      expect(() => native.sysctlOnThread({ fd: 0, nstype, path: "/proc/sys/kernel/hostname", maxBytes: 10 })).toThrow(TypeError);
      // The addon refuses them too, whatever its caller checked.
      expect(() => raw.sysctlOnThread({ fd: 0, nstype, path: "/proc/sys/kernel/hostname", max: 10 })).toThrow(/nstype must be CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC/);
    }
  });
});
