/** The per-request child's spec and result, and the spec's validation (TypeError/RangeError on misuse). */
import { checkUint } from "./spawn-spec";
import { ALL_NS_FLAGS, CLONE_NEWUSER, HOLDABLE_NS_NAMES } from "./ns-types";
import type { RawChildJoin, RawChildSpec, RawChildTarget } from "./raw";

const MAX_READ_BYTES = 16 * 1024 * 1024;
const MAX_TIMEOUT_MS = 0x7fffffff;

/** A namespace to join: an nsfs fd (or a pidfd with several flags). */
export type ChildJoin = RawChildJoin;

/** The process a request runs as (see RawChildTarget in ./raw.ts). */
export type ChildTarget = RawChildTarget;

/** What the per-request child does, in this order (see native/src/child/child_spec.h). */
export type ChildSpec = RawChildSpec;

/** The outcome of a successful child. */
export interface ChildResult {
  /** The child's pid (already reaped). */
  pid: number;
  /** holdNs fds, in holdNs order; owned by the caller. */
  fds: number[];
  /** readFile bytes, when readFile was given. */
  data?: Buffer;
  /**
   * Present when the spec unshared PID (CLONE_NEWPID) and held
   * "pid_for_children": the placeholder init that keeps the new pid
   * namespace alive (a pid namespace dies forever when its init exits; a
   * held nsfs fd alone does not keep it usable).
   *
   * The init is pid 1 of the new namespace (and in the new user namespace
   * when USER was unshared in the same spec), a child of the daemon, doing
   * nothing but wait: it runs `lxnsd-pause` (built next to the addon,
   * native/src/child/pause_main.c; comm and argv[0] "lxnsd-pause", a few KiB of
   * memory), with the keepalive pipe as its only fd. When that program is
   * missing or not executable, runChild of such a spec rejects with the
   * open's code (ENOENT, EACCES), step "exec pause" and its path in the
   * message; a failed exec rejects the same way with syscall "execveat". `fd` is the write end of its keepalive pipe, owned by
   * the caller like `fds`: `close(keeper.fd)` releases the namespace — the
   * init sees EOF and exits, and the kernel kills every other process left
   * in that namespace. Keep it open for as long as the namespace must
   * accept new processes (setns + fork). The addon reaps the init itself;
   * it counts in runningChildren() until it has exited, and is killed when
   * the addon's environment is torn down.
   */
  keeper?: {
    /** The init's pid in the daemon's pid namespace. */
    pid: number;
    /** The keepalive pipe's write end. */
    fd: number;
  };
}

export interface RunChildOptions {
  /** Aborting kills the child; the promise rejects with code "ECANCELED". */
  signal?: AbortSignal;
}

export function checkFd(fd: unknown, what = "fd"): asserts fd is number {
  if (!Number.isInteger(fd) || (fd as number) < 0 || (fd as number) > 0x7fffffff) {
    throw new TypeError(`${what} must be an integer >= 0`);
  }
}

export function checkPath(p: unknown, what: string): asserts p is string {
  if (typeof p !== "string" || p.length === 0 || p.includes("\0")) {
    throw new TypeError(`${what} must be a non-empty string without NUL`);
  }
}

function checkString(s: unknown, what: string): asserts s is string {
  if (typeof s !== "string") throw new TypeError(`${what} must be a string`);
}

function checkNsFlags(flags: unknown, what: string, allowZero: boolean): void {
  if (!Number.isInteger(flags) || ((flags as number) & ~ALL_NS_FLAGS) !== 0 || (!allowZero && flags === 0)) {
    throw new TypeError(`${what} must be a combination of CLONE_NEW* flags`);
  }
}

const MAX_U64 = (1n << 64n) - 1n;

function checkTarget(target: ChildTarget): void {
  if (typeof target !== "object" || target === null) throw new TypeError("target must be an object");
  checkFd(target.pidfd, "target.pidfd");
  checkNsFlags(target.nsFlags, "target.nsFlags", true);
  if (!Array.isArray(target.cgroupProcsFds)) throw new TypeError("target.cgroupProcsFds must be an array");
  target.cgroupProcsFds.forEach((fd, i) => checkFd(fd, `target.cgroupProcsFds[${i}]`));
  checkUint(target.uid, "target.uid", 0xfffffffe);
  checkUint(target.gid, "target.gid", 0xfffffffe);
  if (!Array.isArray(target.groups) || target.groups.length > 65536) throw new TypeError("target.groups must be an array of at most 65536 ids");
  target.groups.forEach((g, i) => checkUint(g, `target.groups[${i}]`, 0xfffffffe));
  if (typeof target.caps !== "object" || target.caps === null) throw new TypeError("target.caps must be an object");
  for (const set of ["bounding", "inheritable", "permitted", "effective", "ambient"] as const) {
    const value = target.caps[set];
    if (typeof value !== "bigint" || value < 0n || value > MAX_U64) throw new TypeError(`target.caps.${set} must be a uint64 bigint`);
  }
  if (typeof target.noNewPrivs !== "boolean") throw new TypeError("target.noNewPrivs must be a boolean");
}

/** Validates a ChildSpec; throws TypeError/RangeError on the first problem. */
export function checkSpec(spec: ChildSpec): void {
  if (typeof spec !== "object" || spec === null) throw new TypeError("spec must be an object");
  if (spec.target !== undefined) checkTarget(spec.target);
  for (const [i, j] of (spec.join ?? []).entries()) {
    checkFd(j?.fd, `join[${i}].fd`);
    checkNsFlags(j.nstype, `join[${i}].nstype`, false);
  }
  if (spec.unshareFlags !== undefined) checkNsFlags(spec.unshareFlags, "unshareFlags", true);
  if (spec.idMap !== undefined) {
    checkString(spec.idMap.uidMap, "idMap.uidMap");
    checkString(spec.idMap.gidMap, "idMap.gidMap");
    if (spec.idMap.setgroups !== "allow" && spec.idMap.setgroups !== "deny") {
      throw new TypeError('idMap.setgroups must be "allow" or "deny"');
    }
    if (((spec.unshareFlags ?? 0) & CLONE_NEWUSER) === 0) {
      throw new TypeError("idMap needs CLONE_NEWUSER in unshareFlags");
    }
  }
  if (spec.timensOffsets !== undefined) checkString(spec.timensOffsets, "timensOffsets");
  if (spec.hostname !== undefined) {
    checkString(spec.hostname, "hostname");
    if (Buffer.byteLength(spec.hostname) > 64) throw new RangeError("hostname is at most 64 bytes");
  }
  if (spec.writeFile !== undefined) {
    checkPath(spec.writeFile.path, "writeFile.path");
    checkString(spec.writeFile.data, "writeFile.data");
  }
  if (spec.readFile !== undefined) {
    checkPath(spec.readFile.path, "readFile.path");
    checkUint(spec.readFile.maxBytes, "readFile.maxBytes", MAX_READ_BYTES);
  }
  for (const name of spec.holdNs ?? []) {
    if (!HOLDABLE_NS_NAMES.has(name)) throw new TypeError(`holdNs: unknown namespace name ${JSON.stringify(name)}`);
  }
  if (spec.moveMount !== undefined) {
    checkFd(spec.moveMount.fd, "moveMount.fd");
    checkPath(spec.moveMount.targetPath, "moveMount.targetPath");
    if (spec.moveMount.create !== undefined && spec.moveMount.create !== "dir" && spec.moveMount.create !== "file") {
      throw new TypeError('moveMount.create must be "dir" or "file"');
    }
  }
  if (spec.timeoutMs !== undefined) checkUint(spec.timeoutMs, "timeoutMs", MAX_TIMEOUT_MS);
  if (spec.debugSleepMs !== undefined) checkUint(spec.debugSleepMs, "debugSleepMs", MAX_TIMEOUT_MS);
}
