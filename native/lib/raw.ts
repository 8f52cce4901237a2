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

/** What the per-request child does, in this order (see native/src/child/child_runner.cc); validated again by C++. */
export interface RawChildSpec {
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
  /** Kill the child after this long: NativeError "ETIMEDOUT". Default 10000. */
  timeoutMs?: number;
  /** Test only: the child sleeps this long before holdNs and exit. */
  debugSleepMs?: number;
  /** Test only: force the clone flavour. */
  debugCloneMode?: "auto" | "vm" | "fork";
}

/**
 * The program of an exec spec (see "Exec specs" in native/src/child/child_runner.cc).
 * It is always a process of its own, the daemon's child, so it runs in a
 * joined or new pid namespace (pid 1 of a new one) and in a joined or new
 * time namespace.
 */
export interface RawExecProgram {
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
}

/** A child spec that ends in a program; never with holdNs, readFile, writeFile. */
export interface RawExecSpec extends RawChildSpec {
  exec: RawExecProgram;
}

/** The program has exec'd: its pid (= pgid) and the daemon's pipe ends. */
export interface RawProgramStarted {
  fds: number[];
  pid: number;
  stdin: number;
  stdout: number;
  stderr: number;
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
}

export interface RawChildResult {
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
  init(errorClass: new (...args: never[]) => Error): void;
  openPath(path: string): number;
  pidfdOpen(pid: number): number;
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
  runChild(spec: RawChildSpec, done: RawChildDone): number;
  cancelChild(pid: number): boolean;
  /** Returns the per-request child's pid (for cancelChild until `started`). */
  spawnProgram(
    spec: RawExecSpec,
    started: (err: NativeError | null, result?: RawProgramStarted) => void,
    exited: (status: RawProgramExit) => void,
  ): number;
  /** Signals a running program's process group; false once reaped or unknown. */
  killProgram(pid: number, signal: number): boolean;
  /** Kills and reaps every child, keeper init and program group, synchronously; calls no callback. */
  killAll(): void;
  runningChildren(): number;
  /** The /proc walk on the libuv pool; rejects only when /proc cannot be read. */
  scanNamespaces(): Promise<RawScanRow[]>;
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
