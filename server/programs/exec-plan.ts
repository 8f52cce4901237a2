import * as path from "node:path";
import type { ExecSpec } from "../../api/gen/lxnsd/v1/types_pb";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { DEFAULT_ENV } from "../../api/default-env";
import * as native from "../../native/lib";
import { durationMs } from "../rpc/durations";
import { invalidArgument } from "../errors";
import type { Caller } from "../auth/caller";
import { checkTargetMaySwitch, openTargetProcess } from "../auth/target-context";
import type { TargetProcess } from "../auth/target-context";
import { isRestricted, targetForbidden } from "../auth/target-guard";
import { ownNamespaceId } from "../namespaces/info";
import type { NamespaceResolver, ResolvedNamespace } from "../namespaces/resolver";
import { sharingPins } from "../namespaces/process-pin";
import { planUnshare } from "../namespaces/unshare-plan";
import type { DaemonIds } from "../namespaces/unshare-plan";

export { DEFAULT_ENV };
const DEFAULT_PATH = DEFAULT_ENV[0].slice("PATH=".length);
/** TERM of a terminal's program when the caller's env has none. */
export const DEFAULT_TERM = "TERM=xterm";
/** The largest terminal dimension TIOCSWINSZ takes. */
const MAX_TERMINAL_CELLS = 0xffff;
/** Bounds on what a caller may ask the kernel to copy into a new program. */
const MAX_ARGS = 4096;
const MAX_ARG_BYTES = 256 * 1024;
const NO_ID = 0xffffffff;
/** The longest spec.timeout, in ms: what the addon's timer takes (about 24.8 days). */
const MAX_TIMEOUT_MS = 0x7fffffff;

/** A validated ExecSpec: the namespaces to join (held until the program started) and the native spec. */
export interface ExecPlan {
  joins: ResolvedNamespace[];
  spec: native.SpawnSpec;
  /** The program's time limit in ms, if the caller gave one. */
  timeoutMs?: number;
  /** Releases the joined namespaces' fds; call once the program started or failed to. */
  release(): void;
}

/**
 * Checks an ExecSpec and turns it into what the addon runs: the join fds in
 * NamespaceType order, the namespaces to create with their options, and the
 * program with every PATH candidate for argv[0], tried in order inside the
 * joined mount namespace (raw execve does no PATH search). INVALID_ARGUMENT
 * for a malformed spec; the resolver's statuses for bad join references.
 * For a caller with target rules the program runs as the one process its
 * joins name (spec.target; see openJoinTarget), and only the joins that
 * differ from that process's namespaces are left to do.
 */
export function planExec(spec: ExecSpec | undefined, resolver: NamespaceResolver, ids: DaemonIds, caller: Caller): ExecPlan {
  if (!spec) throw invalidArgument("spec: required");
  checkStrings(spec.argv, "spec.argv");
  if (spec.argv.length === 0 || spec.argv[0] === "") throw invalidArgument("spec.argv: a program is required (argv[0])");
  checkStrings(spec.env, "spec.env");
  spec.env.forEach((entry, index) => {
    if (!/^[^=]+=/.test(entry)) throw invalidArgument(`spec.env[${index}]: must be KEY=VALUE`);
  });
  if (byteSize(spec.argv) + byteSize(spec.env) > MAX_ARG_BYTES || spec.argv.length + spec.env.length > MAX_ARGS) {
    throw invalidArgument(`spec.argv and spec.env: at most ${MAX_ARGS} strings and ${MAX_ARG_BYTES} bytes together`);
  }
  const cwd = spec.cwd === "" ? "/" : spec.cwd;
  if (!path.isAbsolute(cwd) || cwd.includes("\0")) throw invalidArgument("spec.cwd: must be an absolute path");
  if (spec.uid === NO_ID || spec.gid === NO_ID) throw invalidArgument("spec.uid and spec.gid: 4294967295 is not an id");
  const timeoutMs = durationMs(spec.timeout, "spec.timeout") || undefined;
  if (timeoutMs !== undefined && timeoutMs > MAX_TIMEOUT_MS) throw invalidArgument(`spec.timeout: at most ${MAX_TIMEOUT_MS} ms (the addon's timer)`);
  const tty = terminalOf(spec);
  const given = spec.env.length > 0 ? spec.env : [...DEFAULT_ENV];
  // A terminal's program learns its kind from TERM: the caller's, else xterm (as kubectl and docker exec give).
  const env = tty && !given.some((entry) => entry.startsWith("TERM=")) ? [...given, DEFAULT_TERM] : given;
  const fields = { types: "spec.unshare", options: "spec.unshare_options", allowNone: true };
  let unshare = planUnshare(spec.unshare, spec.unshareOptions, ids, fields);
  const creates = (type: NamespaceType) => unshare.kinds.some((kind) => kind.type === type);

  const joins = resolveJoins(spec, resolver, caller);
  let target: TargetProcess | undefined;
  try {
    if (isRestricted(caller)) {
      target = openJoinTarget(caller, joins);
      checkTargetMaySwitch(caller, target, { uid: spec.uid, gid: spec.gid });
      unshare = planUnshare(spec.unshare, spec.unshareOptions, ids, fields, { uid: target.uidInside, gid: target.gidInside, forbid: (what) => targetForbidden(caller, what) });
    }
  } catch (err) {
    joins.forEach((join) => join.release());
    target?.close();
    throw err;
  }
  const release = () => {
    joins.forEach((join) => join.release());
    target?.close();
  };
  // With a target, the child is in all of its namespaces already: only joins that differ are left to do.
  const join = target ? joins.filter((entry) => native.nsStat(entry.fd).ino !== target!.namespaces.get(entry.kind.name)) : joins.filter((entry) => !isOwnNamespace(entry));
  const credentials = programIds(spec, join, target !== undefined);
  return {
    joins,
    timeoutMs,
    release,
    spec: {
      ...unshare.spec,
      ...(target ? { target: programTarget(target) } : {}),
      join: join.map((entry) => ({ fd: entry.fd, nstype: entry.kind.flag })),
      exec: {
        candidates: candidates(spec.argv[0], env, cwd),
        argv: spec.argv,
        env,
        cwd,
        uid: credentials.uid,
        gid: credentials.gid,
        mountProc: creates(NamespaceType.PID) && creates(NamespaceType.MNT),
        ...(tty ? { tty } : {}),
        // A target's program gets its own cgroup below the target's: it counts against the target's limits, and cgroup.kill ends it alone.
        ...(target?.cgroupV2 ? { cgroupParent: target.cgroupV2.dir } : {}),
      },
    },
  };
}

/**
 * spec.tty and spec.terminal_size as the addon takes them (rows and cols,
 * 0 when unset), or undefined without tty; a terminal_size without tty, or
 * one past 65535 cells, is INVALID_ARGUMENT.
 */
function terminalOf(spec: ExecSpec): { rows: number; cols: number } | undefined {
  const size = spec.terminalSize;
  if (!spec.tty) {
    if (size) throw invalidArgument("spec.terminal_size: only with spec.tty");
    return undefined;
  }
  const rows = size?.rows ?? 0;
  const cols = size?.cols ?? 0;
  checkTerminalSize(rows, cols, "spec.terminal_size");
  return { rows, cols };
}

/** INVALID_ARGUMENT unless rows and cols fit a terminal (at most 65535 each). */
export function checkTerminalSize(rows: number, cols: number, field: string): void {
  if (rows > MAX_TERMINAL_CELLS || cols > MAX_TERMINAL_CELLS) {
    throw invalidArgument(`${field}: rows and cols must be at most ${MAX_TERMINAL_CELLS}, got ${rows}x${cols}`);
  }
}

/** The target's child spec, less its v2 cgroup: the program is cloned into a cgroup of its own below that one instead. */
function programTarget(target: TargetProcess): native.ChildSpec["target"] {
  const v2 = target.cgroupV2;
  return v2 ? { ...target.spec, cgroupProcsFds: target.spec.cgroupProcsFds.filter((fd) => fd !== v2.fd) } : target.spec;
}

/**
 * A caller with target rules runs a program as exactly one process: the
 * one its joins name (a pid, /proc/PID/ns/TYPE, a handle made from a
 * process). Types not joined come from that process, not from the daemon.
 * No join, or one that names no process: PERMISSION_DENIED; joins that name
 * different processes: INVALID_ARGUMENT.
 */
function openJoinTarget(caller: Caller, joins: readonly ResolvedNamespace[]): TargetProcess {
  if (joins.length === 0) throw targetForbidden(caller, "a program that joins no namespace of an allowed process (it needs a target to run as)");
  for (const join of joins) {
    if (join.originGone) throw targetForbidden(caller, `${join.label}: the process it was made from is gone`);
    if (join.origin === undefined) throw targetForbidden(caller, `${join.label}: it names no process to run as`);
  }
  const pids = [...new Set(joins.map((join) => join.origin!))];
  if (pids.length > 1) throw invalidArgument(`spec.join: the joins name processes ${pids.join(", ")}; a program runs as exactly one target process`);
  const startTimes = new Set(joins.map((join) => join.originStartTime));
  const target = openTargetProcess(caller, pids[0], `process ${pids[0]}`);
  if (startTimes.size > 1 || !startTimes.has(target.startTime)) {
    target.close();
    throw targetForbidden(caller, `process ${pids[0]}: it exited or was replaced while the joins were resolved`);
  }
  return target;
}

/**
 * A join of a namespace the child is in already (the daemon's own) is
 * skipped, as nsenter -a does: setns into one's own user namespace fails
 * with EINVAL, and into one's own time or cgroup namespace with EPERM once
 * a user namespace was joined (its owner is one the program has no
 * privileges in). The mount namespace is joined all the same: that also
 * resets root and cwd to its root.
 */
function isOwnNamespace(join: ResolvedNamespace): boolean {
  if (join.kind.type === NamespaceType.MNT) return false;
  return native.nsStat(join.fd).ino === ownNamespaceId(join.kind);
}

/**
 * The program's uid and gid: those the caller gave; after a user namespace
 * join without a target (a target's credentials are the target's), 0 of
 * that namespace for the ones not given, as nsenter does, unless
 * spec.preserve_credentials keeps the daemon's as they map into it.
 */
function programIds(spec: ExecSpec, join: readonly ResolvedNamespace[], hasTarget: boolean): { uid?: number; gid?: number } {
  const rootInside = !hasTarget && !spec.preserveCredentials && join.some((entry) => entry.kind.type === NamespaceType.USER);
  return { uid: spec.uid ?? (rootInside ? 0 : undefined), gid: spec.gid ?? (rootInside ? 0 : undefined) };
}

function resolveJoins(spec: ExecSpec, resolver: NamespaceResolver, caller: Caller): ResolvedNamespace[] {
  const joins: ResolvedNamespace[] = [];
  try {
    // Joins of one process (nsenter -t PID -n -u) share its pidfd.
    sharingPins(() => spec.join.forEach((ref, index) => {
      // Only a target (openJoinTarget) is checked against the joins' start times.
      const join = resolver.resolve(ref, `spec.join[${index}]`, caller, { originStartTime: isRestricted(caller) });
      joins.push(join);
      if (joins.some((other) => other !== join && other.kind === join.kind)) {
        throw invalidArgument(`spec.join[${index}]: a ${join.kind.name} namespace is already joined`);
      }
    }));
  } catch (err) {
    joins.forEach((join) => join.release());
    throw err;
  }
  return joins.sort((a, b) => a.kind.type - b.kind.type);
}

/** Every path execve should try for argv[0]: itself when it has a slash, else each PATH entry. */
function candidates(program: string, env: readonly string[], cwd: string): string[] {
  if (program.includes("/")) return [path.posix.resolve(cwd, program)];
  const pathVar = env.find((entry) => entry.startsWith("PATH="))?.slice("PATH=".length) ?? DEFAULT_PATH;
  return pathVar
    .split(":")
    .filter((dir) => dir !== "")
    .map((dir) => path.posix.resolve(cwd, dir, program));
}

function checkStrings(values: readonly string[], field: string): void {
  values.forEach((value, index) => {
    if (value.includes("\0")) throw invalidArgument(`${field}[${index}]: contains a NUL byte`);
  });
}

function byteSize(values: readonly string[]): number {
  return values.reduce((sum, value) => sum + Buffer.byteLength(value) + 1, 0);
}
