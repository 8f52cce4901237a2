import * as native from "../../native/lib";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { fromErrno, isErrnoLike, nativeCall } from "../errors";
import type { Caller } from "./caller";
import { checkCgroupLines, checkOwner, targetForbidden } from "./target-guard";

/** CAP_SETGID and CAP_SETUID (linux/capability.h). */
const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

/**
 * The process a request runs as (runc exec's model), read while pinned by
 * a pidfd (native.openTarget) and checked against the caller's target
 * rules on exactly what was read. close() releases its fds.
 */
export type TargetProcess = native.TargetContext;

/**
 * Opens the context of process `pid` for `caller`: PERMISSION_DENIED
 * (TARGET_FORBIDDEN) unless the process is one the caller may touch (its
 * cgroup under a prefix, its user namespace allowed); NOT_FOUND when it has
 * exited. `label` names it in messages.
 */
export function openTargetProcess(caller: Caller, pid: number, label: string): TargetProcess {
  const target = nativeCall(`read ${label}`, () => native.openTarget(pid));
  try {
    checkCgroupLines(caller, target.cgroupLines, label);
    checkLsmLabel(caller, target, label, OWN_LSM_LABEL());
    if (caller.targets?.userNamespaces) {
      // The user namespace it was in while pinned: the fd is trusted only if it is that one.
      const fd = native.openPath(`/proc/${pid}/ns/user`);
      try {
        if (native.nsStat(fd).ino !== target.namespaces.get("user")) throw targetForbidden(caller, `${label}: it changed while it was read`);
        checkOwner(caller, fd, NamespaceType.USER, label);
      } finally {
        native.close(fd);
      }
    }
    return target;
  } catch (err) {
    target.close();
    throw isErrnoLike(err) ? fromErrno(err, `read ${label}`) : err;
  }
}

let ownLabel: { value: string | undefined } | undefined;
/** The daemon's own LSM label, read once. */
const OWN_LSM_LABEL = (): string | undefined => (ownLabel ??= { value: native.lsmLabel("/proc/self") }).value;

/**
 * PERMISSION_DENIED (TARGET_FORBIDDEN) when the target runs under an LSM
 * label other than the daemon's: a program made for it would run under the
 * daemon's label, which may allow more than the target's, and lxnsd does not
 * take labels (each LSM spells them differently). With no LSM that labels
 * processes (this machine: no /sys/kernel/security/lsm), every target passes.
 */
export function checkLsmLabel(caller: Caller, target: { lsmLabel?: string; pid: number }, label: string, daemonLabel: string | undefined): void {
  if (target.lsmLabel === undefined || target.lsmLabel === daemonLabel || target.lsmLabel === "unconfined") return;
  throw targetForbidden(caller, `${label}: it runs under the LSM label "${target.lsmLabel}", which lxnsd does not take (a program would run under the daemon's "${daemonLabel ?? "none"}")`);
}

/** PERMISSION_DENIED unless the target itself could take `uid` / `gid` (CAP_SETUID / CAP_SETGID in its effective set). */
export function checkTargetMaySwitch(caller: Caller, target: TargetProcess, ids: { uid?: number; gid?: number }): void {
  const has = (cap: bigint) => ((target.spec.caps.effective >> cap) & 1n) === 1n;
  if (ids.uid !== undefined && !has(CAP_SETUID)) {
    throw targetForbidden(caller, `uid ${ids.uid}: its target (process ${target.pid}) cannot change its uid (no CAP_SETUID)`);
  }
  if (ids.gid !== undefined && !has(CAP_SETGID)) {
    throw targetForbidden(caller, `gid ${ids.gid}: its target (process ${target.pid}) cannot change its gid (no CAP_SETGID)`);
  }
}
