/**
 * The types of {@link spawnProgram} (./index.ts) and the validation of the
 * `exec` part of its spec. No addon access here.
 */
import type { RawProgramSpec, RawSpawnSpec, RawProgramExit } from "./raw";
import type { Terminal } from "./terminal";

/**
 * A per-request child spec that ends in a program: the child joins,
 * unshares (idMap written by the daemon, timens offsets, hostname, lo up)
 * exactly as for runChild, then starts `exec`. `holdNs`, `readFile` and
 * `writeFile` are refused (TypeError). `timeoutMs` bounds the steps before
 * execve (as for runChild, default 10 s: ETIMEDOUT); `exec.timeoutMs`, when
 * given, bounds the program's whole lifetime (counted from the call): at
 * expiry the program's cgroup (or process group) is SIGKILLed and `exited`
 * resolves `{ signal: 9, timedOut: true }`; before the program runs it
 * rejects ETIMEDOUT.
 */
export type SpawnSpec = RawSpawnSpec;

/** The program (see RawProgramSpec in ./raw.ts). */
export type ProgramSpec = RawProgramSpec;

/** How the program ended: exactly one of code and signal is set; with
 * exec.collectOutput also stdout, stderr and truncated. */
export type ProgramExit = RawProgramExit;

/** A program that has exec'd. The three fds belong to the caller. */
export interface ExecHandle {
  /** The addon's name for this program (a counter, never reused): kill() uses it, never the pid. */
  id: number;
  /** Its own cgroup's path (exec.cgroupParent given). */
  cgroup?: string;
  /** The program's pid in the daemon's pid namespace. */
  pid: number;
  /** Its process group (= pid): the program and what it starts. */
  pgid: number;
  /** Write end of its stdin pipe (O_CLOEXEC|O_NONBLOCK). */
  stdin: number;
  /** Read end of its stdout pipe (O_CLOEXEC|O_NONBLOCK); -1 with exec.collectOutput. */
  stdout: number;
  /** Read end of its stderr pipe (O_CLOEXEC|O_NONBLOCK); -1 with exec.collectOutput. */
  stderr: number;
  /** With exec.tty: the terminal (its master; the three pipes are -1), owned by the caller. */
  terminal?: Terminal;
  /**
   * Resolves once the program is reaped, with its exit code or the signal
   * that killed it (with exec.collectOutput: once both pipes are also at
   * EOF, with what they carried). Never rejects. When the program exits,
   * whatever is left in its cgroup (exec.cgroupParent; else its process
   * group) is SIGKILLed, and with a cgroup `exited` waits until it is empty
   * and removed (nothing outlives the request).
   */
  exited: Promise<ProgramExit>;
  /** Sends `signal` to the process group (and to the program if it left
   * it; SIGKILL also to its whole cgroup); a no-op once the program is over. */
  kill(signal: number): void;
}

export interface SpawnProgramOptions {
  /** Before the program runs: kills the child, rejects "ECANCELED".
   * Afterwards: SIGKILLs the process group; `exited` gives `{ signal: 9 }`. */
  signal?: AbortSignal;
}

function checkStrings(list: unknown, what: string, nonEmpty: boolean): asserts list is string[] {
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string" || s.includes("\0"))) {
    throw new TypeError(`${what} must be an array of strings without NUL`);
  }
  if (nonEmpty && list.length === 0) throw new TypeError(`${what} must not be empty`);
}

/** RangeError unless `n` is an integer in [0, max]. */
export function checkUint(n: unknown, what: string, max: number): asserts n is number {
  if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > max) {
    throw new RangeError(`${what} must be an integer in [0, ${max}]`);
  }
}

function checkId(n: unknown, what: string): void {
  if (n !== undefined) checkUint(n, what, 0xfffffffe);
}

/** Validates the exec-specific part; throws TypeError/RangeError. */
export function checkExec(spec: SpawnSpec, cloneNewNs: number): void {
  if (typeof spec?.exec !== "object" || spec.exec === null) throw new TypeError("spec.exec must be an object");
  if (spec.holdNs !== undefined || spec.readFile !== undefined || spec.writeFile !== undefined) {
    throw new TypeError("exec cannot be combined with holdNs, readFile or writeFile");
  }
  const { candidates, argv, env, cwd, uid, gid, mountProc, collectOutput, timeoutMs, cgroupParent, reuseCgroup, tty } = spec.exec;
  checkStrings(candidates, "exec.candidates", true);
  if (candidates.some((c) => !c.startsWith("/"))) throw new TypeError("exec.candidates must be absolute paths");
  checkStrings(argv, "exec.argv", true);
  checkStrings(env, "exec.env", false);
  if (cwd !== undefined && (typeof cwd !== "string" || cwd.length === 0 || cwd.includes("\0"))) {
    throw new TypeError("exec.cwd must be a non-empty string without NUL");
  }
  checkId(uid, "exec.uid");
  checkId(gid, "exec.gid");
  if (mountProc !== undefined && typeof mountProc !== "boolean") throw new TypeError("exec.mountProc must be a boolean");
  if (collectOutput !== undefined) checkUint(collectOutput, "exec.collectOutput", 0xffffffff);
  if (timeoutMs !== undefined) checkUint(timeoutMs, "exec.timeoutMs", 0x7fffffff);
  if (cgroupParent !== undefined && (typeof cgroupParent !== "string" || !cgroupParent.startsWith("/") || cgroupParent.includes("\0"))) {
    throw new TypeError("exec.cgroupParent must be an absolute path without NUL");
  }
  if (reuseCgroup !== undefined && typeof reuseCgroup !== "boolean") throw new TypeError("exec.reuseCgroup must be a boolean");
  if (tty !== undefined) {
    if (typeof tty !== "object" || tty === null) throw new TypeError("exec.tty must be an object");
    checkUint(tty.rows, "exec.tty.rows", 0xffff);
    checkUint(tty.cols, "exec.tty.cols", 0xffff);
    if (collectOutput !== undefined) throw new TypeError("exec.tty cannot be combined with collectOutput");
  }
  if (mountProc && ((spec.unshareFlags ?? 0) & cloneNewNs) === 0) {
    throw new TypeError("exec.mountProc needs CLONE_NEWNS in unshareFlags");
  }
}
