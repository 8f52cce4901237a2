import { closeSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { status } from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { NamespaceType } from "../client/gen/lxnsd/v1/types_pb";
import type { ExitStatusSchema } from "../client/gen/lxnsd/v1/types_pb";
import * as native from "../native/lib";
import { RpcError, fromErrno, isErrnoLike } from "./errors";
import type { ExecPlan } from "./exec-plan";

const SIGKILL = 9;
/** What an empty pipe takes without blocking (Linux's default pipe size). */
const PIPE_CAPACITY = 64 * 1024;
/** The addon's own limit stays out of the way: the daemon enforces spec.timeout itself. */
const NO_NATIVE_TIMEOUT = 0x7fffffff;

/** A program started for one request, its stdio wrapped as sockets on the event loop. */
export interface ProgramSession {
  readonly pid: number;
  /** The program's stdin, or undefined when startProgram was given all of it up front. */
  readonly stdin: Socket | undefined;
  readonly stdout: Socket;
  readonly stderr: Socket;
  /** How the program ended, once it has been reaped. */
  readonly exited: Promise<MessageInitShape<typeof ExitStatusSchema>>;
  /** Sends `signal` to the program's process group (no-op once it ended). */
  signal(signal: number): void;
  /** Kills the process group; checkStopped() will throw `why` (the first reason given wins). */
  stop(why: RpcError): void;
  /** Throws DEADLINE_EXCEEDED / CANCELLED (or what stop() was given) when the program was stopped early. */
  checkStopped(): void;
  /** Kills the process group if it still runs and closes the pipes. */
  dispose(): void;
}

/**
 * Starts the program of `plan` in its namespaces and resolves once it has
 * been exec'd. A spec.timeout or the call's abort kills its whole process
 * group; so does its own exit, for what it left behind (the addon kills the
 * group before it reaps the program). Rejects with the status of the failed step (execve ENOENT →
 * NOT_FOUND, setns EINVAL → FAILED_PRECONDITION, …) with nothing left behind.
 */
export async function startProgram(plan: ExecPlan, callSignal: AbortSignal, stdinBytes?: Uint8Array): Promise<ProgramSession> {
  let handle: native.ExecHandle;
  try {
    handle = await native.spawnProgram({ ...plan.spec, timeoutMs: NO_NATIVE_TIMEOUT }, { signal: callSignal });
  } catch (err) {
    if (!isErrnoLike(err)) throw err;
    if (err.code === "ENOMEM" && err.step === "start program" && plan.joins.some((join) => join.kind.type === NamespaceType.PID)) {
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
  const stdin = stdinBytes === undefined ? new Socket({ fd: handle.stdin, readable: false, writable: true }) : feedAndClose(handle.stdin, stdinBytes);
  const stdout = new Socket({ fd: handle.stdout, readable: true, writable: false });
  const stderr = new Socket({ fd: handle.stderr, readable: true, writable: false });
  // The program may exit without reading its stdin; that is its business.
  stdin?.on("error", () => {});

  let stoppedBy: RpcError | undefined;
  let ended = false;
  const stop = (why: RpcError) => {
    stoppedBy ??= why;
    if (!ended) handle.kill(SIGKILL);
  };
  const onAbort = () => stop(new RpcError(status.CANCELLED, "the call was cancelled; the program was killed"));
  callSignal.addEventListener("abort", onAbort, { once: true });
  const timer =
    plan.timeoutMs === undefined
      ? undefined
      : setTimeout(() => stop(new RpcError(status.DEADLINE_EXCEEDED, `the program ran past its timeout of ${plan.timeoutMs} ms and was killed`)), plan.timeoutMs);
  const exited = handle.exited.then((exit) => {
    ended = true;
    clearTimeout(timer);
    callSignal.removeEventListener("abort", onAbort);
    return exit.signal !== undefined ? { status: { case: "signal" as const, value: exit.signal } } : { status: { case: "code" as const, value: exit.code ?? 0 } };
  });
  if (callSignal.aborted) onAbort();

  return {
    pid: handle.pid,
    stdin,
    stdout,
    stderr,
    exited,
    signal: (signal) => {
      if (!ended) handle.kill(signal);
    },
    stop,
    checkStopped: () => {
      if (stoppedBy) throw stoppedBy;
    },
    dispose: () => {
      if (!ended) stop(new RpcError(status.CANCELLED, "the call ended before the program"));
      stdin?.destroy();
      stdout.destroy();
      stderr.destroy();
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
