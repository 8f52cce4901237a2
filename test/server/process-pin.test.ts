import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as native from "../../native/lib";
import { pinProcess, sharingPins, whilePinned } from "../../server/namespaces/process-pin";
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

  it("inside sharingPins the reads of one process share one pidfd, each still confirmed, and it is closed at the end", () => {
    const fds = countFds();
    const pid = orphan();
    const opened: number[] = [];
    const fdsBetween: number[] = [];
    try {
      sharingPins(() => {
        for (const type of ["net", "uts"]) {
          opened.push(whilePinned(pid, () => native.openPath(`/proc/${pid}/ns/${type}`), (fd) => native.close(fd)));
          fdsBetween.push(countFds());
        }
      });
      // The pidfd stays open between the reads (one fd beside each namespace's), and only one is ever open.
      expect(fdsBetween).toEqual([fds + 2, fds + 3]);
      expect(countFds()).toBe(fds + 2);
      opened.splice(0).forEach((fd) => native.close(fd));
      expect(countFds()).toBe(fds);
      // Reaped between the reads: the second read's confirmation fails, and the pin is still released.
      let thrown: unknown;
      try {
        sharingPins(() => {
          opened.push(whilePinned(pid, () => native.openPath(`/proc/${pid}/ns/net`), (fd) => native.close(fd)));
          whilePinned(
            pid,
            () => {
              const fd = native.openPath(`/proc/${pid}/ns/uts`);
              killAndReap(pid);
              return fd;
            },
            (fd) => native.close(fd),
          );
        });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ code: status.NOT_FOUND, reason: "ESRCH" });
      opened.splice(0).forEach((fd) => native.close(fd));
      expect(countFds()).toBe(fds);
    } finally {
      opened.forEach((fd) => native.close(fd));
      if (existsSync(`/proc/${pid}`)) killAndReap(pid);
    }
  });
});
