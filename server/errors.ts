import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Metadata, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../api/gen/google/rpc/error_details_pb";
import { StatusSchema } from "../api/gen/google/rpc/status_pb";
import { STEP } from "../native/lib";

/** The domain of every ErrorInfo lxnsd sends. */
export const ERROR_DOMAIN = "lxnsd";

/** The shape of an error that came from a syscall (the addon's NativeError, Node's fs errors). */
export interface ErrnoLike {
  code: string;
  syscall?: string;
  step?: string;
  message: string;
}

/**
 * errno → gRPC status, each row with its reason (docs/DESIGN.md, "The error model"; README, "Errors").
 * Anything not listed is INTERNAL: a syscall failed in a way the daemon did
 * not plan for, which is a bug to report, not a caller's mistake.
 */
const ERRNO_STATUS: Readonly<Record<string, status>> = {
  ESRCH: status.NOT_FOUND, // the process is gone
  ENOENT: status.NOT_FOUND, // no such process or namespace file
  ENOTDIR: status.NOT_FOUND, // a path component is not a directory: no such file
  EINVAL: status.FAILED_PRECONDITION, // setns: the namespace is of the wrong type
  EROFS: status.FAILED_PRECONDITION, // BindMount create_target_path on a read-only mount
  EPERM: status.PERMISSION_DENIED,
  EACCES: status.PERMISSION_DENIED,
  EMFILE: status.RESOURCE_EXHAUSTED, // the daemon is out of fds
  ENFILE: status.RESOURCE_EXHAUSTED, // the system is out of fds
  ENOSPC: status.RESOURCE_EXHAUSTED, // unshare: max_<type>_namespaces reached
  EUSERS: status.RESOURCE_EXHAUSTED, // unshare: user namespace nesting too deep
  ENOMEM: status.RESOURCE_EXHAUSTED,
  EAGAIN: status.RESOURCE_EXHAUSTED, // clone: process limit
  ENOSYS: status.UNIMPLEMENTED, // the kernel lacks the syscall
  EOPNOTSUPP: status.UNIMPLEMENTED, // the kernel lacks the feature
  ENOTTY: status.INVALID_ARGUMENT, // an nsfs ioctl on a file that is not a namespace
  ELOOP: status.INVALID_ARGUMENT,
  ENAMETOOLONG: status.INVALID_ARGUMENT,
  ETIMEDOUT: status.DEADLINE_EXCEEDED, // the per-request child ran past its time
  ECANCELED: status.CANCELLED, // the call went away and its child was killed
  ERANGE: status.OUT_OF_RANGE, // a value the kernel cannot represent (a clock offset below zero)
};

/**
 * An error with the gRPC status a caller can act on. `reason` becomes the
 * ErrorInfo reason (the errno name for syscall failures); `cause` is kept for
 * the log and never sent.
 */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly reason: string = status[code],
    readonly metadata: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RpcError";
  }
}

/** INVALID_ARGUMENT for a malformed request, naming the field. */
export function invalidArgument(message: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, message, "INVALID_ARGUMENT");
}

/** Whether `err` carries an errno name, as NativeError and Node's system errors do. */
export function isErrnoLike(err: unknown): err is ErrnoLike {
  // Not `instanceof Error`: errors from Node's core may come from another realm (vm contexts, jest).
  const code = typeof err === "object" && err !== null ? (err as Partial<ErrnoLike>).code : undefined;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code);
}

/**
 * Maps a syscall failure to its status. `what` says what the daemon was doing
 * ("open /proc/42/ns/net"); `overrides` changes the status of an errno where
 * the operation gives it another meaning (EINVAL from a sysctl write is a bad
 * value, not a wrong namespace type).
 */
export function fromErrno(err: ErrnoLike, what: string, overrides: Readonly<Record<string, status>> = {}): RpcError {
  const code = childVanished(err) ? status.ABORTED : (overrides[err.code] ?? ERRNO_STATUS[err.code] ?? status.INTERNAL);
  const metadata: Record<string, string> = { errno: err.code };
  if (err.syscall) metadata.syscall = err.syscall;
  if (err.step) metadata.step = err.step;
  const where = err.step ? ` at step "${err.step}"` : "";
  return new RpcError(code, `${what}: ${err.syscall ?? "syscall"}: ${err.code}${where} (${err.message})`, err.code, metadata, { cause: err });
}

/**
 * Runs `fn`, a call into the addon or Node's fs, and turns a syscall failure
 * into its status: fromErrno(err, what, overrides). Anything else is thrown
 * as it is. A promise `fn` returns is mapped the same way when it rejects.
 */
export function nativeCall<T>(what: string, fn: () => T, overrides?: Readonly<Record<string, status>>): T {
  const asStatus = (err: unknown): unknown => (isErrnoLike(err) ? fromErrno(err, what, overrides) : err);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    throw asStatus(err);
  }
  // A thenable, not `instanceof Promise`: the addon's promises may come from another realm (jest).
  if (isThenable(result)) {
    return Promise.resolve(result).catch((err: unknown) => {
      throw asStatus(err);
    }) as T;
  }
  return result;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** The daemon's own steps on a per-request child, through /proc/CHILD: ESRCH or ENOENT there means the child is gone. */
const STEPS_ON_THE_CHILD = new Set<string>([STEP.writeSetgroups, STEP.writeUidMap, STEP.writeGidMap, STEP.openNs]);

/**
 * Whether a per-request child died under the daemon's feet (killed from
 * outside): the addon reports ECHILD when it died without reporting, or the
 * daemon's own writes to /proc/CHILD fail with ESRCH/ENOENT. The request
 * itself was fine, so this is ABORTED (retry), not NOT_FOUND or INTERNAL.
 */
function childVanished(err: ErrnoLike): boolean {
  if (err.code === "ECHILD") return true;
  return (err.code === "ESRCH" || err.code === "ENOENT") && err.step !== undefined && STEPS_ON_THE_CHILD.has(err.step);
}

/** Any thrown value as an RpcError: unknown errors become INTERNAL. */
export function asRpcError(err: unknown, what = "internal error"): RpcError {
  if (err instanceof RpcError) return err;
  if (isErrnoLike(err)) return fromErrno(err, what);
  const message = err instanceof Error ? err.message : String(err);
  return new RpcError(status.INTERNAL, `${what}: ${message}`, "INTERNAL", {}, { cause: err });
}

/**
 * The grpc-js form of an error: code, message, and the google.rpc.Status with
 * one ErrorInfo in the `grpc-status-details-bin` trailer.
 */
export function toServiceError(err: RpcError): Partial<ServiceError> {
  const message = boundedMessage(err.message);
  const info = create(ErrorInfoSchema, { reason: err.reason, domain: ERROR_DOMAIN, metadata: { ...err.metadata } });
  const details = create(StatusSchema, { code: err.code, message, details: [anyPack(ErrorInfoSchema, info)] });
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, details)));
  return { code: err.code, details: message, metadata };
}

/** The most of a status message sent: it travels twice in HTTP/2 trailers, which peers cap (16 KiB is common). */
export const MAX_STATUS_MESSAGE = 1024;

/**
 * Messages quote the caller's input (a pin name, a path); a long one made
 * trailers too big to send, and the call hung until its deadline.
 */
function boundedMessage(message: string): string {
  return message.length <= MAX_STATUS_MESSAGE ? message : `${message.slice(0, MAX_STATUS_MESSAGE - 20)}… (${message.length} chars)`;
}
