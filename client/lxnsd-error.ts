import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
// The enum alone: @grpc/grpc-js's index would load all of grpc-js (lxnsctl --help loads no transport).
import { Status as status } from "@grpc/grpc-js/build/src/constants";
import type { ServiceError } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../api/gen/google/rpc/error_details_pb";
import type { ErrorInfo } from "../api/gen/google/rpc/error_details_pb";
import { StatusSchema } from "../api/gen/google/rpc/status_pb";

/**
 * A failed lxnsd call. `code` is the gRPC status; `reason` the ErrorInfo
 * reason the daemon sent (the errno name for syscall failures, such as
 * "ESRCH", or a daemon reason such as "HANDLE_CLOSED"); `errno`, `syscall`
 * and `step` come from its metadata where the failure was a syscall.
 */
export class LxnsdError extends Error {
  readonly code: status;
  readonly reason?: string;
  readonly errno?: string;
  readonly syscall?: string;
  readonly step?: string;
  readonly info?: ErrorInfo;

  constructor(code: status, message: string, info?: ErrorInfo, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LxnsdError";
    this.code = code;
    this.info = info;
    this.reason = info?.reason;
    this.errno = info?.metadata.errno;
    this.syscall = info?.metadata.syscall;
    this.step = info?.metadata.step;
  }

  /** The status name, e.g. "NOT_FOUND". */
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }

  /** The error a grpc-js call failed with, with its ErrorInfo decoded when the daemon sent one. */
  static fromServiceError(err: ServiceError): LxnsdError {
    return new LxnsdError(err.code, err.details || err.message, errorInfoOf(err), { cause: err });
  }
}

function errorInfoOf(err: ServiceError): ErrorInfo | undefined {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!raw || typeof raw === "string") return undefined;
  try {
    for (const detail of fromBinary(StatusSchema, raw).details) {
      const info = anyUnpack(detail, ErrorInfoSchema);
      if (info) return info;
    }
  } catch {
    // a malformed trailer leaves the error without details
  }
  return undefined;
}

/** Whether `err` is a grpc-js ServiceError. */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number" && "metadata" in err;
}

/** `err` as an LxnsdError when it is a grpc-js ServiceError, else unchanged. */
export function toLxnsdError(err: unknown): unknown {
  return isServiceError(err) ? LxnsdError.fromServiceError(err) : err;
}
