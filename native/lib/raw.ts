/**
 * The raw surface of the C++ addon `lxnsd_native`, exactly as C++ exports
 * it, and the one loader for it. Only `./index.ts` uses this file; the
 * server imports the wrapper.
 */
import * as path from "node:path";

import type { NativeError } from "./native-error";

/** One row of the addon's ordered namespace table (join order). */
export interface RawNsType {
  name: string;
  flag: number;
}

/** A namespace to join: an nsfs fd (or a pidfd with several flags). */
export interface RawChildJoin {
  fd: number;
  nstype: number;
}

/**
 * The process a request runs as, as `runc exec` into it (see ChildTarget in
 * native/src/child/child_steps.h). Read by the caller from the target
 * pinned by `pidfd`; ids and groups are kernel ids as the daemon sees them.
 * Before the joins and unshare, the child, in named steps: writes "0" to
 * each cgroupProcsFds ("join target cgroups"); setgroups(groups),
 * setresgid(gid), setresuid(uid) keeping its capabilities for setns ("take
 * target ids"); setns(pidfd, nsFlags) ("setns target"); drops the bounding
 * set to caps.bounding, sets permitted, effective and inheritable to the
 * target's, ambient to caps.ambient, and no_new_privs ("take target
 * capabilities"). The caller keeps the fds open until the run completes.
 */
export interface RawChildTarget {
  /** pidfd_open of the target. */
  pidfd: number;
  /** CLONE_NEW* types to enter (those that differ from the daemon's; never
   * one the child is in already: setns refuses its own user namespace). */
  nsFlags: number;
  /** O_WRONLY fds of the target's cgroup.procs, one per hierarchy. */
  cgroupProcsFds: number[];
  uid: number;
  gid: number;
  groups: number[];
  /** The target's capability sets, CapBnd, CapInh, CapPrm, CapEff, CapAmb. */
  caps: { bounding: bigint; inheritable: bigint; permitted: bigint; effective: bigint; ambient: bigint };
  noNewPrivs: boolean;
}

/** What the per-request child does, in this order (see native/src/child/child_spec.h); validated again by C++. */
export interface RawChildSpec {
  /** Become this process first (see RawChildTarget). */
  target?: RawChildTarget;
  /** setns(fd, nstype) in this order; order them USER first (NS_TYPES order). */
  join?: RawChildJoin[];
  /** unshare(flags) after joining; 0 or absent = none. */
  unshareFlags?: number;
  /** Written by the daemon to /proc/CHILD/{setgroups,uid_map,gid_map} after
   * the child unshared a user namespace. An empty map is not written; the
   * setgroups file is written only with a gid map. */
  idMap?: { uidMap: string; gidMap: string; setgroups: "allow" | "deny" };
  /** Written to /proc/self/timens_offsets, e.g. "boottime 3600 0\n". */
  timensOffsets?: string;
  /** sethostname in the child's uts namespace. */
  hostname?: string;
  /** Sets IFF_UP on "lo" in the child's net namespace. */
  loopbackUp?: boolean;
  /** open(O_WRONLY) + write all + close, e.g. a /proc/sys/user limit. */
  writeFile?: { path: string; data: string };
  /** Reads up to maxBytes (at most 16 MiB) into result.data. */
  readFile?: { path: string; maxBytes: number };
  /** Names under /proc/CHILD/ns/ to open once all steps succeeded, returned
   * as result.fds in the same order (the caller must close them). With
   * CLONE_NEWPID in unshareFlags, "pid_for_children" also yields
   * result.keeper (see ChildResult.keeper in ./index.ts). */
  holdNs?: string[];
  /** BindMount: after the joins, move_mount(fd, "", AT_FDCWD, targetPath,
   * MOVE_MOUNT_F_EMPTY_PATH) attaches the detached tree `fd` (from openTree;
   * the caller keeps and closes it) at targetPath in the child's mount namespace. */
  moveMount?: {
    fd: number;
    targetPath: string;
    /** Create targetPath first when it is missing (a directory or an empty file); removed again if move_mount fails. */
    create?: "dir" | "file";
  };
  /** Kill the child after this long: NativeError "ETIMEDOUT". Default 10000.
   * For an exec spec: the steps before execve only (see exec.timeoutMs). */
  timeoutMs?: number;
  /** Test only: the child sleeps this long before holdNs and exit. */
  debugSleepMs?: number;
  /** Test only: force the clone flavour. */
  debugCloneMode?: "auto" | "vm" | "fork";
}

/**
 * The program of an exec spec (see "Exec specs" in native/src/child/child_protocol.h).
 * It is always a process of its own, the daemon's child, so it runs in a
 * joined or new pid namespace (pid 1 of a new one) and in a joined or new
 * time namespace.
 */
export interface RawProgramSpec {
  /** Absolute paths tried in order with execve inside the joined mount
   * namespace (no PATH search there): ENOENT, ENOTDIR and EACCES go on to
   * the next; the error is EACCES if any candidate gave it, else the last. */
  candidates: string[];
  /** argv as given (argv[0] unchanged); not empty. */
  argv: string[];
  /** KEY=VALUE strings, passed as envp exactly. */
  env: string[];
  /** chdir after joining, inside the joined mount namespace, before the ids change. */
  cwd?: string;
  /** setgroups([]) + setgid(gid) + setuid(uid) before exec, for those given. */
  uid?: number;
  gid?: number;
  /** Make / MS_REC|MS_PRIVATE and mount a new proc on /proc, as
   * `unshare --mount-proc`; needs CLONE_NEWNS in unshareFlags (TypeError). */
  mountProc?: boolean;
  /** The addon reads stdout and stderr itself (to EOF), keeping up to this
   * many bytes of each for the exit status; the started callback then gets
   * -1 for both fds. */
  collectOutput?: number;
  /** Bounds the program's whole lifetime in ms, counted from the call, the
   * steps before execve included (those stop at spec.timeoutMs too, the
   * earlier wins): at expiry the program's cgroup (or process group) is
   * SIGKILLed and the exit status says timedOut; before execve the call
   * rejects ETIMEDOUT. */
  timeoutMs?: number;
  /** An absolute path of a cgroup v2 directory: the program gets a cgroup
   * of its own below it ("program-<daemon pid>-<id>"), created before the
   * per-request child is cloned into it (clone3 CLONE_INTO_CGROUP), so the
   * program and all it starts, setsid or not, are in it. It is ended with
   * cgroup.kill (at exit, timeout, kill(9), abort, killAll) and removed
   * once empty (or, with reuseCgroup, kept idle); `exited` comes only after
   * that. Absent: its process group only. */
  cgroupParent?: string;
  /** With cgroupParent: the program may be cloned into an idle cgroup that
   * an earlier program below the same parent left empty, and its own cgroup,
   * left empty and never killed, may wait (≤ 16 of them, ≤ 3 s, no fds) for
   * a later one instead of being removed (clone3 into a cgroup that held a
   * process before is ~0.4 ms cheaper). Only for a parent whose programs may
   * share cgroups one after the other; killAll removes the idle ones. */
  reuseCgroup?: boolean;
  /** A terminal instead of stdio pipes (ExecSpec.tty; see child_terminal.h):
   * the program opens a pty in its own mount namespace's devpts, of this
   * size, as its controlling terminal and fds 0, 1, 2; the started callback
   * gets its master as `terminal` and -1 for the three pipes. Never with
   * collectOutput. */
  tty?: { rows: number; cols: number };
}

/** A child spec that ends in a program; never with holdNs, readFile, writeFile. */
export interface RawSpawnSpec extends RawChildSpec {
  exec: RawProgramSpec;
}

/** The program has exec'd: its pid (= pgid) and the daemon's pipe ends. */
export interface RawProgramStarted {
  fds: number[];
  /** The per-request child's pid (the program's own, for a direct exec). */
  childPid: number;
  pid: number;
  /** Its own cgroup's path, with exec.cgroupParent. */
  cgroup?: string;
  stdin: number;
  stdout: number;
  stderr: number;
  /** With exec.tty: the terminal's master (O_CLOEXEC|O_NONBLOCK). */
  terminal?: number;
}

/** How a program ended: exactly one field is set. */
export interface RawProgramExit {
  code?: number;
  signal?: number;
  /** With exec.collectOutput: the first collectOutput bytes of each stream,
   * and whether either had more. */
  stdout?: Buffer;
  stderr?: Buffer;
  truncated?: boolean;
  /** Killed by exec.timeoutMs. */
  timedOut?: boolean;
}

export interface RawChildResult {
  /** The child's pid (reaped). */
  childPid: number;
  fds: number[];
  data?: Buffer;
  /** Present when a new pid namespace was unshared and pid_for_children held. */
  keeper?: { pid: number; fd: number };
}

/** One namespace row of scanNamespaces (see NsScanRow in native/src/ns_scan.h):
 * an lsns row plus what Inspect adds. */
export interface RawScanRow {
  /** Index into NS_TYPES. */
  typeIndex: number;
  /** nsfs inode (lsns NS) and st_dev. */
  ino: bigint;
  dev: bigint;
  /** How many processes are in it (lsns NPROCS). */
  nprocs: number;
  /** The lowest pid in it (lsns PID), that process's uid (lsns USER) and command line (lsns COMMAND). */
  pid: number;
  uid: number;
  command: string;
  /** NS_GET_USERNS; 0n when out of view or the process went away before it was read. */
  ownerIno: bigint;
  /** User namespaces: NS_GET_OWNER_UID. */
  ownerUid?: number;
  /** User and pid namespaces below the root of the daemon's view: NS_GET_PARENT. */
  parentIno?: bigint;
}

export type RawChildDone = (err: NativeError | null, result?: RawChildResult) => void;

export interface RawNative {
  NS_TYPES: RawNsType[];
  /** Every step name a failure's `step` can carry (the child's, then the daemon's own); "setns" comes as "setns <type>". */
  STEP_NAMES: string[];
  init(errorClass: new (...args: never[]) => Error): void;
  openPath(path: string): number;
  pidfdOpen(pid: number): number;
  pidfdAlive(pidfd: number): boolean;
  openNsPath(path: string, noFollow: boolean): number;
  pidfdOpen(pid: number, thread?: boolean): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  openBeneath(root: string, relative: string): number;
  openTreeFd(fd: number, recursive: boolean, readOnly: boolean): number;
  close(fd: number): void;
  nsStat(fd: number): { ino: bigint; dev: bigint; nstype: number };
  nsGetUserns(fd: number): number;
  nsGetParent(fd: number): number;
  nsGetOwnerUid(fd: number): number;
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  peerGroups(fd: number): number[];
  bindMountPath(source: string, target: string): void;
  makeSharedMountPoint(dir: string): void;
  unmountDetach(path: string): void;
  openTree(path: string, recursive: boolean, readOnly: boolean): number;
  /** Returns the run's id: a counter from 1, never reused (cancelChild). */
  runChild(spec: RawChildSpec, done: RawChildDone): number;
  /** Kills the running child of run `id` (rejects ECANCELED); false when it has none. */
  cancelChild(id: number): boolean;
  /** Returns the run's id (cancelChild until `started`, killProgram after). */
  spawnProgram(
    spec: RawSpawnSpec,
    started: (err: NativeError | null, result?: RawProgramStarted) => void,
    exited: (status: RawProgramExit) => void,
  ): number;
  /** Signals the program of run `id` (its process group; SIGKILL: its whole cgroup); false once over or unknown. */
  killProgram(id: number, signal: number): boolean;
  /** Kills and reaps every child, keeper init and program group, synchronously; calls no callback. */
  killAll(): void;
  runningChildren(): number;
  /** The /proc walk on the libuv pool; rejects only when /proc cannot be read. */
  scanNamespaces(): Promise<RawScanRow[]>;
  /** lsns COMMAND of one process on the libuv pool, its cmdline read with a bound (native/src/proc_command.h). */
  processCommand(pid: number): Promise<string>;
  /** How many threads are left waiting in a cmdline read past its bound. */
  stuckCommandReads(): number;
  /** One file operation on the libuv pool (native/src/file_ops.h), with `creds` on a thread of its own. */
  fileOp(op: RawFileOpName, args: RawFileOpArgs, creds?: RawFileCreds): Promise<unknown>;
  /** Watches an O_NONBLOCK fd, which is the watch's from here on (closeWatch closes it); onEvents gets bits 1 readable, 2 writable. Returns its id. */
  watchFd(fd: number, onEvents: (bits: number) => void): number;
  /** Polls for these bits (0: none). */
  setWatch(id: number, bits: number): void;
  /** Stops the watch and closes its fd; false when already closed. */
  closeWatch(id: number): boolean;
  /** read(2): bytes read, 0 at EOF, or -errno. */
  fdRead(fd: number, buffer: Buffer): number;
  /** write(2): bytes written, or -errno. */
  fdWrite(fd: number, buffer: Buffer): number;
  /** c_cc[VEOF] of a terminal (a pty master reports its slave's). */
  terminalEofChar(fd: number): number;
  /** TIOCSWINSZ (the kernel sends SIGWINCH to the foreground group when the size changed). */
  terminalResize(fd: number, rows: number, cols: number): void;
  /** Sends sig to the terminal's foreground process group; false when it has none. */
  terminalSignal(fd: number, sig: number): boolean;
}

/**
 * The ops of fileOp: open, openPath, openBeneath → fd; read, write → bytes;
 * openRead → RawFileStat & { fd, bytes, eof } (fd -1 once the op closed it);
 * stat → RawFileStat; readlink → string; list → RawDirEntry[]; others → undefined.
 */
export type RawFileOpName = "open" | "stat" | "readlink" | "rename" | "unlink" | "chown" | "chmod" | "list" | "read" | "write" | "fdatasync" | "close" | "openPath" | "openBeneath" | "openRead";

/** fileOp's arguments: `fd` always but for openPath and openBeneath (the root or directory for open, rename, unlink). */
export interface RawFileOpArgs {
  fd?: number;
  /** openBeneath: the root directory. */
  path?: string;
  /** rename: the new name in the same directory; openBeneath: the path beneath the root. */
  to?: string;
  /** read: filled; write: written (whole). */
  buffer?: Uint8Array;
  /** read: the file offset. */
  position?: bigint;
  flags?: number;
  mode?: number;
  /** open: RESOLVE_IN_ROOT (default) or RESOLVE_BENEATH. */
  inRoot?: boolean;
  /** open: fstat the new fd too, answering RawFileStat & { fd } (one thread for both). */
  withStat?: boolean;
  uid?: number;
  gid?: number;
  /** list: most entries. */
  max?: number;
  /** openRead: a root directory path (a process's /proc/PID/root) the op opens and closes itself, instead of `fd`. */
  root?: string;
  /** openRead: close the fd once `buffer` is full too (the caller wants no more). */
  closeWhenFull?: boolean;
}

/** Filesystem credentials of a restricted request's target (see FileCreds in native/src/file_ops.h). */
export interface RawFileCreds {
  uid: number;
  gid: number;
  groups: number[];
  effective: bigint;
}

/** fstat of a file, as FileService reports it. */
export interface RawFileStat {
  /** st_mode: type and permission bits. */
  mode: number;
  size: bigint;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
}

/** One directory entry (lstat) and, for a symlink, its target ("" otherwise). */
export interface RawDirEntry extends RawFileStat {
  name: string;
  link: string;
}

/** Where the addon may be, relative to this file: from the sources
 * (native/lib/) and from the compiled output (dist/native/lib/). */
const CANDIDATES = [
  "../build/Release/lxnsd_native.node",
  "../../../native/build/Release/lxnsd_native.node",
];

/**
 * Loads the addon. Throws one Error listing every path tried and why each
 * failed.
 */
export function loadRawNative(): RawNative {
  const failures: string[] = [];
  for (const candidate of CANDIDATES) {
    const full = path.resolve(__dirname, candidate);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(full) as RawNative;
    } catch (err) {
      failures.push(`  ${full}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    `lxnsd_native: cannot load the addon (run \`npm install\` or ` +
      `\`node-gyp rebuild --directory native\`); tried:\n${failures.join("\n")}`,
  );
}
