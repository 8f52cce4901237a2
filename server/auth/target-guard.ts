import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import { RpcError, fromErrno, isErrnoLike, nativeCall } from "../errors";
import { containerAbove, podUidOfCgroup } from "../containers/cgroup-names";
import { anyBeneath } from "../rpc/paths";
import type { Caller } from "./caller";

/** The process a reference names, for cgroup rules: a pid, the daemon ("self"), or none (handles, other paths). */
export type TargetProcess = number | "self" | undefined;

/** PERMISSION_DENIED, reason TARGET_FORBIDDEN: `caller` may not touch `what`. */
export function targetForbidden(caller: Caller, what: string): RpcError {
  return forbidden(caller, what);
}

function forbidden(caller: Caller, what: string): RpcError {
  return new RpcError(status.PERMISSION_DENIED, `${caller.name} may not touch ${what}`, "TARGET_FORBIDDEN");
}

/** The cgroup v2 path of a process ("0::/path" in /proc/PID/cgroup), or the v1 paths when there is no v2 line. */
export function cgroupPaths(pid: number | "self"): string[] {
  return parseCgroupFile(nativeCall(`read /proc/${pid}/cgroup`, () => readFileSync(`/proc/${pid}/cgroup`, "utf8")));
}

/** The cgroup paths in the text of a /proc/PID/cgroup file: the v2 one, or the v1 ones when there is no v2 line. */
export function parseCgroupFile(text: string): string[] {
  return pathsOfLines(text.split("\n").filter((line) => line !== ""));
}

/** The v2 path of /proc/PID/cgroup lines, or the v1 paths when there is no v2 line. */
function pathsOfLines(lines: readonly string[]): string[] {
  const unified = lines.find((line) => line.startsWith("0::"));
  return (unified ? [unified] : lines).map((line) => line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1));
}

/** PERMISSION_DENIED unless the cgroup of these /proc/PID/cgroup lines (read by the caller while the process was pinned) is under a prefix. */
export function checkCgroupLines(caller: Caller, lines: readonly string[], label: string): void {
  const prefixes = caller.targets?.cgroupPrefixes;
  if (prefixes) {
    const paths = pathsOfLines(lines);
    if (!anyBeneath(paths, prefixes)) {
      throw forbidden(caller, `${label} (cgroup ${paths.join(", ")})`);
    }
  }
  checkPod(caller, lines, label);
}

/**
 * For pod-namespace rules, PERMISSION_DENIED unless the process of these
 * /proc/PID/cgroup lines is in a pod (its kubepods cgroup names the uid)
 * of an allowed Kubernetes namespace.
 */
function checkPod(caller: Caller, lines: readonly string[], label: string): void {
  const allowed = caller.targets?.podNamespaces;
  if (!allowed) return;
  const uid = podOfLines(lines) ?? runtimePodOfLines(lines, caller.targets?.podUidOfContainer);
  if (uid === undefined) throw forbidden(caller, `${label}: it is in no pod`);
  const namespace = caller.targets?.podNamespaceOf?.(uid);
  if (namespace === undefined || !allowed.includes(namespace)) throw forbidden(caller, `${label}: its pod ${uid} is not in ${allowed.join(", ")}`);
}

/** Whether the process of this /proc/PID/cgroup text passes `caller`'s cgroup and pod rules. */
export function cgroupTextAllowed(caller: Caller, text: string): boolean {
  const lines = text.split("\n").filter((line) => line !== "");
  const prefixes = caller.targets?.cgroupPrefixes;
  if (prefixes && !anyBeneath(pathsOfLines(lines), prefixes)) return false;
  try {
    checkPod(caller, lines, "");
    return true;
  } catch {
    return false;
  }
}

/** The pod uid some line's cgroup path names (v2 or any v1 hierarchy). */
function podOfLines(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const uid = podUidOfCgroup(line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1));
    if (uid !== undefined) return uid;
  }
  return undefined;
}

/** The pod uid the runtime says the container of some line's cgroup path is in. */
function runtimePodOfLines(lines: readonly string[], podUidOfContainer: ((id: string) => string | undefined) | undefined): string | undefined {
  if (!podUidOfContainer) return undefined;
  for (const line of lines) {
    const container = containerAbove(line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1));
    const uid = container && podUidOfContainer(container.container.id);
    if (uid) return uid;
  }
  return undefined;
}

/** Whether one of a process's cgroup `paths` lies under one of `prefixes`. */
export function inCgroupPrefixes(paths: readonly string[], prefixes: readonly string[]): boolean {
  return anyBeneath(paths, prefixes);
}

/** The process /proc/PID/ns/TYPE, /proc/self/ns/TYPE and /proc/thread-self/ns/TYPE paths name; undefined for other paths. */
export function processOfPath(file: string): TargetProcess {
  const match = /^\/proc\/(\d+|self|thread-self)\/ns\/[a-z_]+$/.exec(file);
  if (!match) return undefined;
  return match[1] === "self" || match[1] === "thread-self" ? "self" : Number(match[1]);
}

/** PERMISSION_DENIED unless `pid` lives under one of the caller's cgroup prefixes. */
export function checkProcess(caller: Caller, pid: TargetProcess, label: string): void {
  if (!processRules(caller)) return;
  if (pid === undefined) throw forbidden(caller, `${label}: its process cannot be checked against the cgroup rules`);
  const text = nativeCall(`read /proc/${pid}/cgroup`, () => readFileSync(`/proc/${pid}/cgroup`, "utf8"));
  checkCgroupLines(caller, text.split("\n").filter((line) => line !== ""), label);
}

/** Whether the caller has rules about which processes it may touch (cgroup prefixes or pod namespaces). */
export function processRules(caller: Caller): boolean {
  return caller.targets?.cgroupPrefixes !== undefined || caller.targets?.podNamespaces !== undefined;
}

/**
 * PERMISSION_DENIED unless the namespace behind `fd` is one of the caller's
 * user namespaces or is owned by one of them, at any depth (NS_GET_USERNS,
 * then NS_GET_PARENT up to the root of the daemon's view).
 */
export function checkOwner(caller: Caller, fd: number, type: NamespaceType, label: string): void {
  const allowed = caller.targets?.userNamespaces;
  if (!allowed) return;
  let current = type === NamespaceType.USER ? native.openPath(`/proc/self/fd/${fd}`) : related(() => native.nsGetUserns(fd), label);
  try {
    for (;;) {
      if (current === -1) throw forbidden(caller, `${label}: not owned by an allowed user namespace`);
      const { dev, ino } = native.nsStat(current);
      // The allowed ones are held open by the daemon: their (dev, ino) cannot name another namespace.
      if (allowed.some((held) => held.ino === ino && held.dev === dev)) return;
      const parent = related(() => native.nsGetParent(current), label);
      native.close(current);
      current = parent;
    }
  } finally {
    if (current !== -1) native.close(current);
  }
}

/**
 * For a cgroup rule, PERMISSION_DENIED unless the namespace behind `fd`,
 * reached through OWNER or PARENT, is itself one of the namespaces of
 * `origin`, the process the reference named (the same file as
 * /proc/ORIGIN/ns/<name>): an allowed target's owner or parent is not
 * allowed because the target is. A reference with no process (a handle
 * without a known origin, a pin) cannot be checked and is refused. The
 * caller holds a pidfd of `origin` across this check and confirms it after.
 */
export function checkRelated(caller: Caller, fd: number, name: string, origin: TargetProcess, label: string): void {
  if (!processRules(caller)) return;
  if (origin === undefined) throw forbidden(caller, `${label}: its process cannot be checked against the cgroup rules`);
  const own = native.nsStat(fd);
  const theirs = nativeCall(`open /proc/${origin}/ns/${name}`, () => {
    const file = native.openNsPath(`/proc/${origin}/ns/${name}`);
    try {
      return native.nsStat(file);
    } finally {
      native.close(file);
    }
  });
  if (own.dev !== theirs.dev || own.ino !== theirs.ino) throw forbidden(caller, `${label}: not a namespace of process ${origin}`);
}

/** An NS_GET_* fd, or -1 past the root of the daemon's view (EPERM). */
function related(get: () => number, label: string): number {
  try {
    return get();
  } catch (err) {
    if (isErrnoLike(err) && err.code === "EPERM") return -1;
    throw isErrnoLike(err) ? fromErrno(err, `owner of ${label}`) : err;
  }
}

/**
 * For a restricted caller, PERMISSION_DENIED unless the daemon's own
 * namespaces of `kinds` are ones it may touch: what a request acts on when
 * it neither joins nor creates a namespace of that type. `label` names them.
 */
export function checkDaemonNamespaces(caller: Caller, kinds: readonly { type: NamespaceType; name: string }[], label: string): void {
  if (!isRestricted(caller) || kinds.length === 0) return;
  checkProcess(caller, "self", label);
  for (const kind of kinds) {
    const fd = native.openPath(`/proc/self/ns/${kind.name}`);
    try {
      checkOwner(caller, fd, kind.type, label);
    } finally {
      native.close(fd);
    }
  }
}

/** Whether a caller is limited to some targets at all. */
export function isRestricted(caller: Caller): boolean {
  return processRules(caller) || caller.targets?.userNamespaces !== undefined;
}
