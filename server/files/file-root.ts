import { constants, statSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import type { Caller } from "../auth/caller";
import { isRestricted, targetForbidden } from "../auth/target-guard";
import { openTargetProcess } from "../auth/target-context";
import { RpcError, invalidArgument, nativeCall } from "../errors";
import { pinProcess } from "../namespaces/process-pin";
import type { NamespaceResolver, ResolvedNamespace } from "../namespaces/resolver";
import type { FileIo } from "./file-io";

const O_PATH = 0o10000000;

/**
 * Where a FileService request resolves its path from, and as whom: `fd` an
 * O_PATH directory (a process's root, or a mount namespace's root) that
 * openat2 RESOLVE_IN_ROOT never leaves; `creds` the target's filesystem
 * credentials for a restricted caller (undefined: the daemon's); `io` the
 * call's file operations (each on a thread of its own, holding the call's
 * slot, answering at its deadline). release() closes the fd (once no op
 * on it is in flight).
 */
export interface FileRoot {
  readonly fd: number;
  readonly label: string;
  readonly creds?: native.FileCreds;
  readonly io: FileIo;
  /** Closes the root fd (read-only: nothing waits for it). */
  release(): Promise<void>;
}

/**
 * ReadFile's root: an open one (as FileRoot's fd), or, for a process and an
 * unrestricted caller, that process's /proc/PID/root not opened yet: the
 * read's first operation opens it itself, on its thread (native
 * files.openRead), which saves a thread trip for the root's open and one
 * for its close. The process is pinned by a pidfd before; confirm() after
 * that operation checks what processRoot checks after its open (still that
 * process, in the mount namespace the resolver checked), and nothing read
 * is answered before it passed.
 */
export interface ReadRoot {
  readonly label: string;
  readonly creds?: native.FileCreds;
  readonly io: FileIo;
  /** Where the first operation resolves from. */
  readonly from: { fd: number } | { root: string };
  /** Throws (ABORTED, NOT_FOUND) unless an operation that opened `from.root` opened the root of the pinned process in the checked namespace. */
  confirm(): void;
  /** Closes the root fd, or releases the pin. */
  release(): Promise<void>;
}

/** What FileService needs to find a root. */
export interface FileRootDeps {
  resolver: NamespaceResolver;
  childTimeoutMs: number;
}

/**
 * open(path, O_PATH|O_DIRECTORY): a magic link of /proc (a process's root)
 * followed once. On a thread of its own all the same: the jump may
 * revalidate the root's dentry (NFS does), which a dead server never answers.
 */
function openRootDir(file: string, io: FileIo): Promise<number> {
  return io.openPath(file, O_PATH | constants.O_DIRECTORY);
}

/** The inode of /proc/PID/ns/mnt, to tie a root to the namespace the resolver checked. */
function mntInode(pid: number | "self"): bigint {
  return statSync(`/proc/${pid}/ns/mnt`, { bigint: true }).ino;
}

/**
 * Opens the root of `ref` (a mount namespace reference; type MNT or unset)
 * for `caller`:
 * - by pid or self: the process's own root, /proc/PID/root (its mount
 *   namespace and chroot, as `nsenter -t PID -m -r`), opened while the
 *   process is pinned by a pidfd and confirmed alive afterwards, and in the
 *   mount namespace the resolver checked;
 * - by handle or path: the mount namespace's root, held from a per-request
 *   child that joined it (setns(CLONE_NEWNS) makes the namespace's root the
 *   child's root; the daemon opens /proc/CHILD/root before the child exits).
 * A restricted caller acts as its target: the process named (or the one a
 * handle or pin was made from, still running), with that process's
 * credentials; none: PERMISSION_DENIED (TARGET_FORBIDDEN).
 */
export async function openFileRoot(ref: NamespaceRef | undefined, caller: Caller, deps: FileRootDeps, io: FileIo): Promise<FileRoot> {
  return (await rootOf(ref, caller, deps, io, false)) as FileRoot;
}

/** As openFileRoot, for ReadFile: a process's root (unrestricted caller) is left for the read's first operation to open (ReadRoot). */
export async function openReadRoot(ref: NamespaceRef | undefined, caller: Caller, deps: FileRootDeps, io: FileIo): Promise<ReadRoot> {
  const root = await rootOf(ref, caller, deps, io, true);
  if ("from" in root) return root;
  return { label: root.label, io, from: { fd: root.fd }, ...(root.creds ? { creds: root.creds } : {}), confirm: () => undefined, release: () => root.release() };
}

async function rootOf(ref: NamespaceRef | undefined, caller: Caller, deps: FileRootDeps, io: FileIo, defer: boolean): Promise<FileRoot | ReadRoot> {
  if (ref && ref.relation !== Relation.UNSPECIFIED) {
    throw invalidArgument("mount.relation: a file's mount namespace is the one referenced itself");
  }
  const mnt = deps.resolver.resolve(ref, "mount", caller, { defaultType: NamespaceType.MNT });
  try {
    if (mnt.kind.type !== NamespaceType.MNT) {
      throw new RpcError(status.FAILED_PRECONDITION, `mount: ${mnt.label} is a ${mnt.kind.name} namespace, not mnt`, "WRONG_NAMESPACE_TYPE");
    }
    // A container names its init process (mnt.origin): paths resolve as that process sees them, like a pid's.
    const byProcess = ref!.source.case === "pid" || ref!.source.case === "self" || (ref!.source.case === "container" && mnt.origin !== undefined);
    const pid = ref!.source.case === "pid" ? ref!.source.value : ref!.source.case === "self" ? process.pid : mnt.origin;
    if (isRestricted(caller)) {
      if (pid === undefined || mnt.originGone) throw targetForbidden(caller, `${mnt.label}: files need a process to act as (a pid, or a handle or pin made from a running process)`);
      return await restrictedRoot(mnt, pid, byProcess, caller, deps, io);
    }
    if (byProcess && defer) return deferredProcessRoot(mnt, ref!.source.case === "self" ? "self" : pid!, io);
    if (byProcess) return await processRoot(mnt, ref!.source.case === "self" ? "self" : pid!, io);
    return withRelease(await namespaceRoot(mnt, deps, io.signal), mnt.label, io);
  } finally {
    mnt.release();
  }
}

function withRelease(fd: number, label: string, io: FileIo, creds?: native.FileCreds): FileRoot {
  let open = true;
  return {
    fd,
    label,
    io,
    ...(creds ? { creds } : {}),
    release: async () => {
      if (!open) return;
      open = false;
      await io.close(fd);
    },
  };
}

/** /proc/PID/root of the pinned process, which must still be in the mount namespace `mnt`. */
async function processRoot(mnt: ResolvedNamespace, pid: number | "self", io: FileIo): Promise<FileRoot> {
  const root = deferredProcessRoot(mnt, pid, io);
  try {
    const fd = await nativeCall(`open the root of ${mnt.label}`, () => openRootDir(root.from.root, io));
    try {
      root.confirm();
    } catch (err) {
      await io.close(fd);
      throw err;
    }
    return withRelease(fd, mnt.label, io);
  } finally {
    await root.release();
  }
}

/** /proc/PID/root of the pinned process, for an operation to open (processRoot's, or ReadFile's first): confirm() afterwards checks it is still that process, in the mount namespace `mnt`. */
function deferredProcessRoot(mnt: ResolvedNamespace, pid: number | "self", io: FileIo): ReadRoot & { from: { root: string } } {
  const ino = native.nsStat(mnt.fd).ino;
  const what = `open the root of ${mnt.label}`;
  const pin = pid === "self" ? undefined : nativeCall(what, () => pinProcess(pid));
  return {
    label: mnt.label,
    io,
    from: { root: `/proc/${pid}/root` },
    confirm: () => {
      if (mntInode(pid) !== ino) throw new RpcError(status.ABORTED, `${mnt.label}: the process changed its mount namespace meanwhile; retry`, "NAMESPACE_CHANGED");
      if (pin) nativeCall(what, () => pin.confirm());
    },
    release: async () => pin?.release(),
  };
}

/** The root of the mount namespace `mnt`, from a child that joined it. */
async function namespaceRoot(mnt: ResolvedNamespace, deps: FileRootDeps, signal: AbortSignal): Promise<number> {
  const spec = { join: [{ fd: mnt.fd, nstype: native.CLONE_NEWNS }], holdNs: ["root"], timeoutMs: deps.childTimeoutMs };
  const result = await nativeCall(`open the root of ${mnt.label}`, () => native.runChild(spec, { signal }));
  return result.fds[0];
}

/**
 * A restricted caller's root: its target pinned and checked (its cgroup,
 * its user namespace) by openTargetProcess, the root opened while that
 * pidfd holds it, and the target's filesystem credentials. Capabilities
 * count in the target's own user namespace: one that is not the daemon's
 * gets none here (fewer rights than the target, never more).
 */
async function restrictedRoot(mnt: ResolvedNamespace, pid: number, byProcess: boolean, caller: Caller, deps: FileRootDeps, io: FileIo): Promise<FileRoot> {
  const target = openTargetProcess(caller, pid, `process ${pid}`);
  let fd: number | undefined;
  try {
    const ino = native.nsStat(mnt.fd).ino;
    if (target.namespaces.get("mnt") !== ino) throw targetForbidden(caller, `${mnt.label}: not the mount namespace of process ${pid}`);
    if (byProcess) fd = await nativeCall(`open the root of ${mnt.label}`, () => openRootDir(`/proc/${pid}/root`, io));
    if (!native.pidfdAlive(target.spec.pidfd)) throw new RpcError(status.NOT_FOUND, `process ${pid} exited while it was read`, "ESRCH");
    const creds: native.FileCreds = {
      uid: target.spec.uid,
      gid: target.spec.gid,
      groups: [...target.spec.groups],
      effective: target.sameUserNamespace ? target.spec.caps.effective : 0n,
    };
    if (fd === undefined) fd = await namespaceRoot(mnt, deps, io.signal);
    const root = withRelease(fd, mnt.label, io, creds);
    fd = undefined;
    return root;
  } finally {
    if (fd !== undefined) await io.close(fd);
    target.close();
  }
}
