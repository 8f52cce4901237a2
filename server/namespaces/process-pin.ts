import * as native from "../../native/lib";
import { fromErrno, isErrnoLike, nativeCall } from "../errors";
import { processExited } from "./exiting-process";

/**
 * A process held by a pidfd while what is read about it through its pid
 * (/proc/PID/cgroup, /proc/PID/ns/*) is trusted. The pid may be reused once
 * the process is reaped, but the pidfd goes on naming the original:
 * confirm() after the reads proves they were all of that one process
 * (still alive, or a zombie whose pid nobody else can have yet).
 */
export interface ProcessPin {
  /** NOT_FOUND (ESRCH) when the process was reaped since the pin: what was read may be another's. */
  confirm(): void;
  release(): void;
}

/** A thread pidfd where the kernel has them (6.9+), else a process pidfd. */
function openPidfd(pid: number): number {
  try {
    return native.pidfdOpen(pid, { thread: true });
  } catch (err) {
    if (isErrnoLike(err) && err.code === "EINVAL") return native.pidfdOpen(pid);
    throw err;
  }
}

/** pidfd_open(pid): NOT_FOUND for a process or thread that does not exist. */
export function pinProcess(pid: number): ProcessPin {
  // /proc/PID/ns also names threads (each may have setns'd on its own): pin the thread itself.
  const fd = nativeCall(`process ${pid}`, () => openPidfd(pid));
  let released = false;
  return {
    confirm: () => {
      try {
        native.pidfdSendSignal(fd, 0);
      } catch (err) {
        if (isErrnoLike(err) && err.code === "ESRCH") throw processExited(pid, err, "pidfd_send_signal");
        throw isErrnoLike(err) ? fromErrno(err, `pidfd_send_signal ${pid}`) : err;
      }
    },
    release: () => {
      if (released) return;
      released = true;
      native.close(fd);
    },
  };
}

/** The pins sharingPins keeps while its body runs, by pid (synchronous: nothing else runs meanwhile). */
let shared: Map<number, ProcessPin> | undefined;

/**
 * Runs `body` with the pins its whilePinned calls take kept until it
 * returns: the joins of one process (a Run's net and uts of one pid) share
 * one pidfd. Each whilePinned still confirms after its own reads.
 */
export function sharingPins<T>(body: () => T): T {
  if (shared) return body();
  const pins = new Map<number, ProcessPin>();
  shared = pins;
  try {
    return body();
  } finally {
    shared = undefined;
    for (const pin of pins.values()) pin.release();
  }
}

/**
 * Runs `body` (reads and opens through `pid`) with the process pinned, then
 * confirms it is still the same process; on NOT_FOUND `undo` releases what
 * body returned. The order is the point: pidfd first, then the reads, then
 * the confirmation. Inside sharingPins a pin of `pid` taken before is used
 * again (it was taken before these reads too).
 */
export function whilePinned<T>(pid: number, body: () => T, undo: (value: T) => void): T {
  const pins = shared;
  let pin = pins?.get(pid);
  if (!pin) {
    pin = pinProcess(pid);
    pins?.set(pid, pin);
  }
  try {
    const value = body();
    try {
      pin.confirm();
    } catch (err) {
      undo(value);
      throw err;
    }
    return value;
  } finally {
    if (!pins) pin.release();
  }
}
