import { closeSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { status } from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { ExitStatusSchema } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import { RpcError, fromErrno, isErrnoLike } from "../errors";
import type { ExecPlan } from "./exec-plan";

const SIGKILL = 9;
/** What an empty pipe takes without blocking (Linux's default pipe size). */
const PIPE_CAPACITY = 64 * 1024;

/** What the daemon gives every program, whoever asks. */
export interface ProgramOptions {
  /** Bounds the steps before execve (--child-timeout); spec.timeout bounds them too, the earlier wins. */
  childTimeoutMs: number;
  /** The cgroup v2 directory under which each program gets a cgroup of its own (unless its plan names another); undefined = its process group only. */
  cgroupParent?: string;
  /** Test only: a pre-exec step that hangs this long (the addon's debugSleepMs). */
  testPreExecSleepMs?: number;
}

/** What a program wrote, as collected by the addon (startProgram's collectOutput). */
export interface CollectedOutput {
  /** The first collectOutput bytes of each stream. */
  stdout: Buffer;
  stderr: Buffer;
  /** Either stream had more. */
  truncated: boolean;
}

/** A program started for one request, its stdio wrapped as sockets on the event loop. */
export interface ProgramSession {
  readonly pid: number;
  /** The program's stdin, or undefined when startProgram was given all of it up front. */
  readonly stdin: Socket | undefined;
  /** Its stdout and stderr; undefined when the addon collects them (see `output`). */
  readonly stdout: Socket | undefined;
  readonly stderr: Socket | undefined;
  /** With spec.tty: its terminal (then stdin, stdout and stderr are undefined). */
  readonly terminal: native.Terminal | undefined;
  /** How the program ended, once it has been reaped (and, when collected, its output read to EOF). */
  readonly exited: Promise<MessageInitShape<typeof ExitStatusSchema>>;
  /** With collectOutput: what it wrote, settled with `exited`. */
  readonly output: Promise<CollectedOutput> | undefined;
  /** Sends `signal` to the program's process group (no-op once it ended). */
  signal(signal: number): void;
  /** Kills the program (its cgroup, or process group); checkStopped() will throw `why` (the first reason given wins). */
  stop(why: RpcError): void;
  /** Throws what stop() was given, or DEADLINE_EXCEEDED (spec.timeout) / CANCELLED (the call's signal), when the program was stopped early. */
  checkStopped(): void;
  /** Kills the process group if it still runs and closes the pipes. */
  dispose(): void;
}

/**
 * Starts the program of `plan` in its namespaces and resolves once it has
 * been exec'd. Its limits belong to the addon, which this only maps onto:
 * --child-timeout bounds the steps before execve, spec.timeout the whole
 * lifetime, the call's signal (registered with the addon alone) cancels;
 * each kills the program's cgroup (or, without one, its process group), as
 * does its own exit, for what it left behind. Rejects with the status of
 * the failed step (execve ENOENT → NOT_FOUND, setns EINVAL →
 * FAILED_PRECONDITION, a step past its time → DEADLINE_EXCEEDED, …) with
 * nothing left behind. With `collectOutput` (bytes kept per stream), the
 * addon reads stdout and stderr itself to EOF (no socket per pipe):
 * `output` instead of the sockets.
 */
export async function startProgram(
  plan: ExecPlan,
  options: ProgramOptions,
  callSignal: AbortSignal,
  stdinBytes?: Uint8Array,
  collectOutput?: number,
): Promise<ProgramSession> {
  let handle: native.ExecHandle;
  const cgroupParent = plan.spec.exec.cgroupParent ?? options.cgroupParent;
  // Only below the daemon's own parent (never a target's) may one program's cgroup, left empty and never killed, serve the next.
  const reuseCgroup = plan.spec.exec.cgroupParent === undefined && plan.spec.target === undefined && cgroupParent !== undefined;
  const spec: native.SpawnSpec = {
    ...plan.spec,
    timeoutMs: options.childTimeoutMs,
    ...(options.testPreExecSleepMs !== undefined ? { debugSleepMs: options.testPreExecSleepMs } : {}),
    exec: {
      ...plan.spec.exec,
      ...(collectOutput !== undefined ? { collectOutput } : {}),
      ...(plan.timeoutMs !== undefined ? { timeoutMs: plan.timeoutMs } : {}),
      ...(cgroupParent !== undefined ? { cgroupParent } : {}),
      ...(reuseCgroup ? { reuseCgroup } : {}),
    },
  };
  try {
    handle = await native.spawnProgram(spec, { signal: callSignal });
  } catch (err) {
    if (!isErrnoLike(err)) throw err;
    if (err.code === "ENOMEM" && err.step === native.STEP.startProgram && plan.joins.some((join) => join.kind.type === NamespaceType.PID)) {
      // clone(2): ENOMEM when the pid namespace's init has exited; nothing can be started in it any more.
      throw new RpcError(status.FAILED_PRECONDITION, `start ${JSON.stringify(plan.spec.exec.argv[0])}: the joined pid namespace has no init left (it exited)`, "PID_NAMESPACE_DEAD", {
        errno: err.code,
        step: err.step,
      });
    }
    throw fromErrno(err, `start ${JSON.stringify(plan.spec.exec.argv[0])}`);
  } finally {
    plan.release();
  }
  const terminal = handle.terminal;
  const pipes = terminal === undefined;
  const stdin = !pipes ? undefined : stdinBytes === undefined ? new Socket({ fd: handle.stdin, readable: false, writable: true }) : feedAndClose(handle.stdin, stdinBytes);
  const stdout = pipes && collectOutput === undefined ? new Socket({ fd: handle.stdout, readable: true, writable: false }) : undefined;
  const stderr = pipes && collectOutput === undefined ? new Socket({ fd: handle.stderr, readable: true, writable: false }) : undefined;
  // The program may exit without reading its stdin; that is its business.
  stdin?.on("error", () => {});

  let stoppedBy: RpcError | undefined;
  let ended = false;
  let timedOut = false;
  const stop = (why: RpcError) => {
    stoppedBy ??= why;
    if (!ended) handle.kill(SIGKILL);
  };
  const ending = handle.exited.then((exit) => {
    ended = true;
    timedOut = exit.timedOut === true;
    return exit;
  });
  const exited = ending.then((exit) =>
    exit.signal !== undefined ? { status: { case: "signal" as const, value: exit.signal } } : { status: { case: "code" as const, value: exit.code ?? 0 } },
  );
  const output =
    collectOutput === undefined
      ? undefined
      : ending.then((exit) => ({ stdout: exit.stdout ?? Buffer.alloc(0), stderr: exit.stderr ?? Buffer.alloc(0), truncated: exit.truncated ?? false }));

  return {
    pid: handle.pid,
    stdin,
    stdout,
    stderr,
    terminal,
    exited,
    output,
    signal: (signal) => {
      if (!ended) handle.kill(signal);
    },
    stop,
    checkStopped: () => {
      if (stoppedBy) throw stoppedBy;
      if (timedOut) throw new RpcError(status.DEADLINE_EXCEEDED, `the program ran past its timeout of ${plan.timeoutMs} ms and was killed`);
      if (callSignal.aborted) throw new RpcError(status.CANCELLED, "the call was cancelled; the program was killed");
    },
    dispose: () => {
      if (!ended) stop(new RpcError(status.CANCELLED, "the call ended before the program"));
      stdin?.destroy();
      stdout?.destroy();
      stderr?.destroy();
      terminal?.close();
    },
  };
}

/**
 * Gives the program its whole stdin: written at once when it fits in the
 * empty pipe (no socket to set up, which Run of a small command feels),
 * else through a socket that is ended after it.
 */
function feedAndClose(fd: number, bytes: Uint8Array): Socket | undefined {
  if (bytes.length <= PIPE_CAPACITY) {
    try {
      if (bytes.length > 0) writeSync(fd, bytes);
    } catch {
      // EPIPE: the program exited without reading; EAGAIN cannot happen on an empty pipe of this size
    } finally {
      closeSync(fd);
    }
    return undefined;
  }
  const socket = new Socket({ fd, readable: false, writable: true });
  socket.end(bytes);
  return socket;
}
