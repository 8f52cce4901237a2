/**
 * The idiomatic TypeScript face of the native addon; the server imports
 * only this file. Every function validates its arguments (TypeError or
 * RangeError on misuse) and reports kernel failures as {@link NativeError}.
 *
 * In-process functions are synchronous and never fork or change the
 * daemon's namespaces. Everything that needs another namespace runs in a
 * per-request child through {@link runChild}.
 */
import { checkExec, checkUint, type ExecHandle, type ExecSpec, type ProgramExit, type SpawnProgramOptions } from "./exec-spec";
import { NativeError } from "./native-error";
import { openTarget as readTarget, type TargetContext } from "./target";
import { loadRawNative, type RawChildJoin, type RawChildSpec, type RawChildTarget, type RawScanRow } from "./raw";

export type { ExecHandle, ExecProgram, ExecSpec, ProgramExit, SpawnProgramOptions } from "./exec-spec";
export { NativeError } from "./native-error";
export type { TargetContext } from "./target";
export { cgroupProcsFiles, idInside, processStartTime } from "./target";

/** The name of a namespace type under /proc/PID/ns/. */
export type NsTypeName = "user" | "cgroup" | "ipc" | "net" | "mnt" | "pid" | "time" | "uts";

/**
 * The ordered namespace table, in join order (USER first, because joining
 * the user namespace grants the capabilities needed to join the others).
 * Plain names and CLONE_NEW* flags, checked against the C++ table at load;
 * the API's table (api/namespace-types.ts) is checked against this one by
 * the server (server/namespaces/info.ts).
 */
export const NS_TYPES: ReadonlyArray<{ readonly name: NsTypeName; readonly flag: number }> = [
  { name: "user", flag: 0x10000000 },
  { name: "cgroup", flag: 0x02000000 },
  { name: "ipc", flag: 0x08000000 },
  { name: "net", flag: 0x40000000 },
  { name: "mnt", flag: 0x00020000 },
  { name: "pid", flag: 0x20000000 },
  { name: "time", flag: 0x00000080 },
  { name: "uts", flag: 0x04000000 },
];

function flagOf(name: NsTypeName): number {
  return NS_TYPES.find((type) => type.name === name)!.flag;
}

/** CLONE_NEW* flags: the setns nstype, unshare flag and NS_GET_NSTYPE value. */
export const CLONE_NEWUSER = flagOf("user");
export const CLONE_NEWCGROUP = flagOf("cgroup");
export const CLONE_NEWIPC = flagOf("ipc");
export const CLONE_NEWNET = flagOf("net");
export const CLONE_NEWNS = flagOf("mnt");
export const CLONE_NEWPID = flagOf("pid");
export const CLONE_NEWTIME = flagOf("time");
export const CLONE_NEWUTS = flagOf("uts");

const ALL_NS_FLAGS = NS_TYPES.reduce((acc, t) => acc | t.flag, 0);
const HOLDABLE = new Set<string>([...NS_TYPES.map((t) => t.name), "pid_for_children", "time_for_children"]);
const MAX_READ_BYTES = 16 * 1024 * 1024;
const MAX_TIMEOUT_MS = 0x7fffffff;

const raw = loadRawNative();
raw.init(NativeError);
if (JSON.stringify(raw.NS_TYPES) !== JSON.stringify(NS_TYPES)) {
  throw new Error("lxnsd_native: the addon's namespace table differs from native/lib/index.ts");
}

/**
 * The step names a NativeError's `step` carries (the addon's STEP_NAMES:
 * the child's steps, then the daemon's own on a child), for comparing
 * without string literals. A failed join is `setns <type>` (STEP.setns,
 * a space and the NS_TYPES name).
 */
export const STEP = {
  start: "start",
  resetSignals: "reset signals",
  joinTargetCgroups: "join target cgroups",
  takeTargetIds: "take target ids",
  setnsTarget: "setns target",
  takeTargetCapabilities: "take target capabilities",
  setns: "setns",
  unshare: "unshare",
  makePrivate: "make / private",
  writeUidMap: "write uid_map",
  writeTimensOffsets: "write timens_offsets",
  startPidInit: "start pid init",
  execPause: "exec pause",
  sethostname: "sethostname",
  loopbackUp: "loopback up",
  writeFile: "write file",
  readFile: "read file",
  createTarget: "create target",
  moveMount: "move_mount",
  debugSleep: "debug sleep",
  openNs: "open ns",
  startProgram: "start program",
  setpgid: "setpgid",
  mountProc: "mount proc",
  chdir: "chdir",
  setCredentials: "set credentials",
  stdio: "stdio",
  execve: "execve",
  done: "done",
  writeSetgroups: "write setgroups",
  writeGidMap: "write gid_map",
  createCgroup: "create cgroup",
} as const;

/** One of the step names (setns failures add " <type>"). */
export type StepName = (typeof STEP)[keyof typeof STEP];

{
  const ours = [...new Set(Object.values(STEP))].sort();
  const theirs = [...new Set(raw.STEP_NAMES)].sort();
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
    throw new Error(`lxnsd_native: the addon's step names differ from native/lib/index.ts: ${JSON.stringify(theirs)}`);
  }
}

/** The identity and type of a namespace fd. */
export interface NsStat {
  /** nsfs inode: the namespace id (lsns NS, lxns ns_id). */
  ino: bigint;
  /** st_dev of the nsfs file, as `stat -c %d` prints it. */
  dev: bigint;
  /** CLONE_NEW* value of the namespace type. */
  nstype: number;
}

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

function checkFd(fd: unknown, what = "fd"): asserts fd is number {
  if (!Number.isInteger(fd) || (fd as number) < 0 || (fd as number) > 0x7fffffff) {
    throw new TypeError(`${what} must be an integer >= 0`);
  }
}

function checkPath(p: unknown, what: string): asserts p is string {
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
function checkSpec(spec: ChildSpec): void {
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
    if (!HOLDABLE.has(name)) throw new TypeError(`holdNs: unknown namespace name ${JSON.stringify(name)}`);
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
 * Starts a program in a per-request child's namespaces (see {@link ExecSpec})
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
export function spawnProgram(spec: ExecSpec, options: SpawnProgramOptions = {}): Promise<ExecHandle> {
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
        const { pid, stdin, stdout, stderr, cgroup } = result!;
        started = true;
        resolve({
          id,
          pid,
          pgid: pid,
          ...(cgroup !== undefined ? { cgroup } : {}),
          stdin,
          stdout,
          stderr,
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
 * Rejects with NativeError only when /proc itself cannot be read.
 */
export async function scanNamespaces(): Promise<NsScanRow[]> {
  const rows: RawScanRow[] = await raw.scanNamespaces();
  return rows.map(({ typeIndex, ...rest }) => ({ type: NS_TYPES[typeIndex].name, ...rest }));
}
