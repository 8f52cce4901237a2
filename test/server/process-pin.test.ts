import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as native from "../../native/lib";
import { pinProcess, whilePinned } from "../../server/namespaces/process-pin";
import { RpcError } from "../../server/errors";
import { status } from "@grpc/grpc-js";
import { countFds } from "../helpers/proc";
import { describeRoot } from "../helpers/privileged";

// The order that makes a pid trustworthy: pidfd_open first, then the reads through
// /proc/PID, then a check through the pidfd that it is still the same process.

/** A sleeping process that is not our child: once killed, init reaps it and its pid is free. */
function orphan(): number {
  return Number(execFileSync("sh", ["-c", "sleep 1000 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).trim());
}

/** SIGKILL, then wait (synchronously, as the daemon's own code would not be interrupted) until it is reaped. */
function killAndReap(pid: number): void {
  process.kill(pid, "SIGKILL");
  const deadline = Date.now() + 5000;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} was not reaped`);
  }
}

describeRoot("process pins", () => {
  it("a pid that does not exist is NOT_FOUND (ESRCH) at once", () => {
    expect(() => pinProcess(0x3ffffff0)).toThrow(expect.objectContaining({ code: status.NOT_FOUND, reason: "ESRCH" }));
  });

  it("a thread id is pinned too: /proc/TID/ns names a thread (which may have namespaces of its own)", () => {
    const tid = readdirSync("/proc/self/task").map(Number).find((id) => id !== process.pid)!;
    expect(tid).toBeGreaterThan(0);
    const pin = pinProcess(tid);
    try {
      expect(() => pin.confirm()).not.toThrow();
    } finally {
      pin.release();
    }
  });

  it("what was opened through a pid is given back only if the process was not reaped meanwhile", () => {
    const fds = countFds();
    const alive = orphan();
    try {
      const fd = whilePinned(alive, () => native.openNsPath(`/proc/${alive}/ns/net`), (value) => native.close(value));
      native.close(fd);
    } finally {
      killAndReap(alive);
    }
    const dying = orphan();
    let undone = false;
    let thrown: unknown;
    try {
      whilePinned(
        dying,
        () => {
          const fd = native.openNsPath(`/proc/${dying}/ns/net`);
          // The process goes away after the reads and before they are trusted: its pid may be anyone's now.
          killAndReap(dying);
          return fd;
        },
        (fd) => {
          undone = true;
          native.close(fd);
        },
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RpcError);
    expect(thrown).toMatchObject({ code: status.NOT_FOUND, reason: "ESRCH" });
    expect(undone).toBe(true);
    expect(countFds()).toBe(fds);
  });
});
