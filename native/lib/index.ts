/**
 * The idiomatic TypeScript face of the native addon; the server imports
 * only this file. Every function validates its arguments (TypeError or
 * RangeError on misuse) and reports kernel failures as {@link NativeError}.
 *
 * In-process functions are synchronous and never fork or change the
 * daemon's namespaces. Everything that needs another namespace runs in a
 * per-request child through {@link runChild}.
 */
import { raw } from "./addon";
import { checkFd, checkPath, checkSpec, type ChildResult, type ChildSpec, type RunChildOptions } from "./child-spec";
import { checkExec, checkUint, type ExecHandle, type SpawnSpec, type ProgramExit, type SpawnProgramOptions } from "./spawn-spec";
import { NativeError } from "./native-error";
import { CLONE_NEWNS, NS_TYPES, type NsTypeName } from "./ns-types";
import type { RawScanRow } from "./raw";
import { openTarget as readTarget, type TargetContext } from "./target";
import { Terminal } from "./terminal";

export type { ChildJoin, ChildResult, ChildSpec, ChildTarget, RunChildOptions } from "./child-spec";
export type { ExecHandle, ProgramSpec, SpawnSpec, ProgramExit, SpawnProgramOptions } from "./spawn-spec";
export { NativeError } from "./native-error";
export {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  NS_TYPES,
  type NsTypeName,
} from "./ns-types";
export { STEP, type StepName } from "./steps";
export * as files from "./file-ops";
export type { DirEntry, FileCreds, FileStat } from "./file-ops";
export { Terminal } from "./terminal";
export type { TargetContext } from "./target";
export { cgroupProcsFiles, idInside, lsmLabel, processStartTime } from "./target";

/** The identity and type of a namespace fd. */
export interface NsStat {
  /** nsfs inode: the namespace id (lsns NS, lxns ns_id). */
  ino: bigint;
  /** st_dev of the nsfs file, as `stat -c %d` prints it. */
  dev: bigint;
  /** CLONE_NEW* value of the namespace type. */
  nstype: number;
}

/** open(path, O_RDONLY|O_CLOEXEC). Throws NativeError (syscall "open"). */
export function openPath(path: string): number {
  checkPath(path, "path");
  return raw.openPath(path);
}

/**
 * Opens a namespace file a caller named, in a way that can never block or
 * read anything but nsfs: open(O_PATH|O_CLOEXEC, plus O_NOFOLLOW with
 * `noFollow`), fstatfs must say NSFS_MAGIC, then a real open of
 * /proc/self/fd/N for the NS_GET_* ioctls. Not nsfs (a FIFO, a device, a
 * regular file, a symlink with `noFollow`): NativeError ENOTTY with syscall
 * "fstatfs"; otherwise the errno of either open (syscall "open").
 */
export function openNsPath(path: string, options: { noFollow?: boolean } = {}): number {
  checkPath(path, "path");
  return raw.openNsPath(path, options.noFollow === true);
}

/** pidfd_send_signal(pidfd, signal); signal 0 only checks that the process is still there (ESRCH once reaped). */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  checkFd(pidfd, "pidfd");
  checkUint(signal, "signal", 64);
  raw.pidfdSendSignal(pidfd, signal);
}

/**
 * Resolves `relative` beneath the directory `root` once, race-free:
 * openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS) to an O_PATH fd. A path
 * whose "..", absolute symlink or relative symlink leaves the root is
 * NativeError EXDEV, a magic link ELOOP (syscall "openat2"). Pass "." for the root itself.
 */
export function openBeneath(root: string, relative: string): number {
  checkPath(root, "root");
  checkPath(relative, "relative");
  return raw.openBeneath(root, relative);
}

/** As openTree, of the mount at an O_PATH fd (open_tree(fd, "", AT_EMPTY_PATH|…)): the path is never looked up again. */
export function openTreeFd(fd: number, options: { recursive?: boolean; readOnly?: boolean } = {}): number {
  checkFd(fd);
  return raw.openTreeFd(fd, options.recursive === true, options.readOnly === true);
}

/**
 * pidfd_open(pid, 0): a pidfd, immune to pid reuse. With `thread`,
 * PIDFD_THREAD (Linux 6.9+): any thread id, not only a process's (EINVAL
 * on older kernels). Throws NativeError (ESRCH, ...).
 */
export function pidfdOpen(pid: number, options: { thread?: boolean } = {}): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError("pid must be an integer > 0");
  return raw.pidfdOpen(pid, options.thread === true);
}

/** Whether the process of a pidfd has not exited yet (pidfd_send_signal 0; ESRCH = false). */
export function pidfdAlive(pidfd: number): boolean {
  checkFd(pidfd, "pidfd");
  return raw.pidfdAlive(pidfd);
}

/**
 * Pins process `pid` with a pidfd and reads what a child needs to run as it
 * (spec.target: ids, groups, capability sets, no_new_privs, its namespaces
 * that differ from the daemon's, its cgroup.procs files opened O_WRONLY),
 * then confirms it still runs. NativeError ESRCH when it has exited; fs
 * errors of the reads as they are. close() releases the pidfd and fds.
 */
export function openTarget(pid: number): TargetContext {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError("pid must be an integer > 0");
  return readTarget(pid, raw.pidfdOpen, raw.pidfdAlive, raw.close, NS_TYPES);
}

/** close(fd). Throws NativeError EBADF for a fd that is not open. */
export function close(fd: number): void {
  checkFd(fd);
  raw.close(fd);
}

/** fstat + ioctl(NS_GET_NSTYPE). A fd that is not on nsfs: NativeError ENOTTY. */
export function nsStat(fd: number): NsStat {
  checkFd(fd);
  return raw.nsStat(fd);
}

/** ioctl(NS_GET_USERNS): a new fd for the owning user namespace.
 * EPERM when the owner is outside the daemon's view. */
export function nsGetUserns(fd: number): number {
  checkFd(fd);
  return raw.nsGetUserns(fd);
}

/** ioctl(NS_GET_PARENT): a new fd for the parent (pid and user namespaces).
 * EPERM at the root of the daemon's view, EINVAL for other types. */
export function nsGetParent(fd: number): number {
  checkFd(fd);
  return raw.nsGetParent(fd);
}

/** ioctl(NS_GET_OWNER_UID) of a user namespace (EINVAL for other types). */
export function nsGetOwnerUid(fd: number): number {
  checkFd(fd);
  return raw.nsGetOwnerUid(fd);
}

/** getsockopt(SO_PEERCRED) of a connected unix socket fd: the connecting process's pid, uid and gid. */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  checkFd(fd);
  return raw.peerCredentials(fd);
}

/**
 * getsockopt(SO_PEERGROUPS) of a connected unix socket fd: the supplementary
 * groups the connecting process had at connect(), fixed for the connection's
 * life (unlike /proc/PID/status of its pid, which may be another process by now).
 */
export function peerGroups(fd: number): number[] {
  checkFd(fd);
  return raw.peerGroups(fd);
}

/**
 * mount(source, target, NULL, MS_BIND) in the daemon's own mount namespace
 * (a mount, not a namespace change). With source "/proc/self/fd/N" of an
 * nsfs fd this pins the namespace at target, as `ip netns add` does.
 * Throws NativeError (syscall "mount(MS_BIND)").
 */
export function bindMountPath(source: string, target: string): void {
  checkPath(source, "source");
  checkPath(target, "target");
  raw.bindMountPath(source, target);
}

/**
 * Makes `dir` a shared mount point as `ip netns` does with /run/netns
 * (binding it onto itself first when it is not a mount point), so what is
 * mounted under it later propagates into mount namespaces copied from here.
 * Throws NativeError (syscall "mount(MS_BIND)" or "mount(MS_SHARED)").
 */
export function makeSharedMountPoint(dir: string): void {
  checkPath(dir, "dir");
  raw.makeSharedMountPoint(dir);
}

/** umount2(path, MNT_DETACH|UMOUNT_NOFOLLOW). Throws NativeError (EINVAL: not a mount point). */
export function unmountDetach(path: string): void {
  checkPath(path, "path");
  raw.unmountDetach(path);
}

/**
 * open_tree(OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC [|AT_RECURSIVE]) of `path`:
 * the fd of a detached copy of the mount there (with `recursive`, of every
 * mount below too), made read-only with mount_setattr when `readOnly`.
 * Changes no namespace. Attach it with runChild's moveMount; closing the fd
 * of a tree never attached dissolves it. Throws NativeError (syscall
 * "open_tree" or "mount_setattr").
 */
export function openTree(path: string, options: { recursive?: boolean; readOnly?: boolean } = {}): number {
  checkPath(path, "path");
  return raw.openTree(path, options.recursive === true, options.readOnly === true);
}

/**
 * Runs one per-request child that joins, unshares and does the small fixed
 * operations of `spec`, and resolves once the child has been reaped. The
 * daemon's own namespaces never change. Rejects with NativeError: the code
 * is the errno name of the failing step (`step`, `syscall` say which),
 * "ETIMEDOUT" after timeoutMs, "ECANCELED" when `signal` aborts, "ECHILD"
 * when the child died without reporting. On any failure no fd is left open.
 */
export function runChild(spec: ChildSpec, options: RunChildOptions = {}): Promise<ChildResult> {
  checkSpec(spec);
  const { signal } = options;
  if (signal?.aborted) {
    return Promise.reject(new NativeError("runChild: ECANCELED (aborted before start)", "ECANCELED", 125, "runChild"));
  }
  return new Promise<ChildResult>((resolve, reject) => {
    let id = 0;
    const onAbort = (): void => void raw.cancelChild(id);
    id = raw.runChild(spec, (err, result) => {
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else {
        resolve({
          pid: result!.childPid,
          fds: result!.fds,
          ...(result!.data !== undefined ? { data: result!.data } : {}),
          ...(result!.keeper !== undefined ? { keeper: result!.keeper } : {}),
        });
      }
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How many children are running, keeper inits included (tests, metrics). */
export function runningChildren(): number {
  return raw.runningChildren();
}

/**
 * Starts a program in a per-request child's namespaces (see {@link SpawnSpec})
 * and resolves once it has exec'd, with its pid, process group and the
 * daemon's ends of its stdio pipes (owned by the caller; wrap them in
 * `net.Socket({ fd })`; with exec.collectOutput stdout and stderr are -1:
 * the addon reads them). Rejects with NativeError when any step up to and
 * including execve failed (`step` "setns pid", "chdir", "set credentials",
 * "execve", …, see STEP; "ETIMEDOUT"/"ECANCELED" before the program ran);
 * then no fd, child or program is left. After exec, abort, exec.timeoutMs
 * and kill(9) SIGKILL the program's cgroup (exec.cgroupParent) or process
 * group and `exited` resolves `{ signal: 9 }` (`timedOut` for the timeout);
 * once the program has exited but its collected output is still open (held
 * by a descendant that left the group), they stop the reading instead:
 * `exited` resolves with its exit status and the output so far, `truncated`
 * set. The addon owns all these limits: the caller keeps no timer.
 */
export function spawnProgram(spec: SpawnSpec, options: SpawnProgramOptions = {}): Promise<ExecHandle> {
  checkSpec(spec);
  checkExec(spec, CLONE_NEWNS);
  const { signal } = options;
  if (signal?.aborted) {
    return Promise.reject(new NativeError("spawnProgram: ECANCELED (aborted before start)", "ECANCELED", 125, "runChild"));
  }
  return new Promise<ExecHandle>((resolve, reject) => {
    let id = 0;
    let started = false;
    let onExit: (status: ProgramExit) => void = () => {};
    const exited = new Promise<ProgramExit>((r) => (onExit = r));
    const onAbort = (): void => void (started ? raw.killProgram(id, 9) : raw.cancelChild(id));
    id = raw.spawnProgram(
      spec,
      (err, result) => {
        if (err) {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
          return;
        }
        const { pid, stdin, stdout, stderr, cgroup, terminal } = result!;
        started = true;
        resolve({
          id,
          pid,
          pgid: pid,
          ...(cgroup !== undefined ? { cgroup } : {}),
          stdin,
          stdout,
          stderr,
          ...(terminal !== undefined ? { terminal: new Terminal(terminal) } : {}),
          exited,
          kill: (sig: number) => {
            checkUint(sig, "signal", 64);
            raw.killProgram(id, sig);
          },
        });
      },
      (status) => {
        signal?.removeEventListener("abort", onAbort);
        onExit(status);
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Kills and reaps, synchronously, every running child, keeper init and
 * program (with its process group); no callback or promise settles after.
 * The addon does this itself when its environment is torn down (a worker
 * ending, Node's normal end), but `process.exit()` skips that teardown:
 * a daemon exiting that way calls this first. (If the daemon is killed
 * outright, only PDEATHSIG remains: the programs themselves die, what they
 * started does not.)
 */
export function killAllChildren(): void {
  raw.killAll();
}

/** One namespace that some process is in: an lsns row plus what Inspect adds. */
export interface NsScanRow extends Omit<RawScanRow, "typeIndex"> {
  /** Its type, as NS_TYPES names it. */
  type: NsTypeName;
}

/**
 * Walks /proc off the event loop (a libuv pool thread), as lsns does: every
 * /proc/PID/ns/<type> of every process, never *_for_children. Processes that
 * vanish mid-scan are skipped. Rows in NS_TYPES order, then by inode.
 * Commands are read as processCommand reads them: a process whose mmap lock
 * is stuck costs the scan at most 150 ms, once, and shows its comm.
 * Rejects with NativeError only when /proc itself cannot be read.
 */
export async function scanNamespaces(): Promise<NsScanRow[]> {
  const rows: RawScanRow[] = await raw.scanNamespaces();
  return rows.map(({ typeIndex, ...rest }) => ({ type: NS_TYPES[typeIndex].name, ...rest }));
}

/**
 * lsns's COMMAND of `pid`, as scanNamespaces makes it: its cmdline (NULs as
 * spaces, the last byte dropped, at most 8 KiB), or its comm for a kernel
 * thread. Reading a cmdline takes the process's mmap lock, which any process
 * can keep taken for good: the read runs on a thread of its own and is
 * waited for at most 150 ms (then comm; see native/src/proc_command.h).
 * "" when the process is gone. Never blocks the event loop.
 */
export function processCommand(pid: number): Promise<string> {
  checkUint(pid, "pid", 0x7fffffff);
  return raw.processCommand(pid);
}

/** How many threads are left waiting in a cmdline read past its bound (at most 8; they return once the process's lock comes free). */
export function stuckCommandReads(): number {
  return raw.stuckCommandReads();
}
