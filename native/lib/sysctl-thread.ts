/**
 * A sysctl of a net, uts or ipc namespace, written and read back by a new
 * thread of the daemon that joins that one namespace and ends with the call
 * (native/src/sysctl_thread.h): no per-request child. setns(2) of these
 * three types changes the calling thread's namespaces only, and the kernel
 * takes /proc/sys/net, kernel.hostname/domainname and the ipc sysctls from
 * the task that opens (and writes) the file; that thread runs nothing else
 * and is never reused. Not for user sysctls (a thread of a multi-threaded
 * process cannot join a user namespace) nor for a request that must act as
 * its target (credentials, every namespace): those take runChild.
 */
import { raw } from "./addon";
import { checkFd, checkPath } from "./child-spec";
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWUTS } from "./ns-types";
import { checkUint } from "./spawn-spec";

/** One sysctl call on a thread of its own. */
export interface SysctlOnThreadSpec {
  /** An nsfs fd of the namespace to join (kept open by the caller until the promise settles). */
  fd: number;
  /** CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC: the type of `fd`. */
  nstype: number;
  /** The file under /proc/sys. */
  path: string;
  /** Written whole first (one open, write, close), when given. */
  data?: string;
  /** Most bytes read back. */
  maxBytes: number;
  /** Tests only: the thread sleeps this long after joining (a sysctl that hangs). */
  debugSleepMs?: number;
}

/** The namespace types a thread may join for a sysctl. */
export const THREAD_SYSCTL_TYPES: ReadonlySet<number> = new Set([CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC]);

/**
 * Joins `spec.fd` on a new thread, writes `data` to `path` (if given) and
 * reads back at most maxBytes. Resolves with the bytes read back; rejects
 * with a NativeError as runChild's join/writeFile/readFile would (step
 * "setns <type>", "write file" or "read file"; syscall setns, open, write
 * or read), or EAGAIN (syscall pthread_create) when no thread can be made.
 * There is no timeout and no cancel: the thread runs to its end (the caller
 * races the promise and keeps its slot until it settles).
 */
export function sysctlOnThread(spec: SysctlOnThreadSpec): Promise<Buffer> {
  checkFd(spec.fd);
  if (!THREAD_SYSCTL_TYPES.has(spec.nstype)) throw new TypeError("nstype must be CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC");
  checkPath(spec.path, "path");
  if (!spec.path.startsWith("/proc/sys/")) throw new TypeError("path must be under /proc/sys/");
  if (spec.data !== undefined && (typeof spec.data !== "string" || spec.data.includes("\0"))) throw new TypeError("data must be a string without NUL");
  checkUint(spec.maxBytes, "maxBytes", 1 << 20);
  if (spec.debugSleepMs !== undefined) checkUint(spec.debugSleepMs, "debugSleepMs", 600_000);
  return raw.sysctlOnThread({
    fd: spec.fd,
    nstype: spec.nstype,
    path: spec.path,
    max: spec.maxBytes,
    ...(spec.data !== undefined ? { data: spec.data } : {}),
    ...(spec.debugSleepMs !== undefined ? { debugSleepMs: spec.debugSleepMs } : {}),
  });
}
