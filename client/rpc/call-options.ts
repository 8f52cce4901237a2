import { Metadata } from "@grpc/grpc-js";
import type { CallOptions as GrpcCallOptions } from "@grpc/grpc-js";

/** Per-call options. */
export interface CallOptions {
  /** Fail with DEADLINE_EXCEEDED after this many ms. */
  timeoutMs?: number;
  /** Cancel the call (CANCELLED) when aborted. */
  signal?: AbortSignal;
  /** Extra request metadata (e.g. authorization). */
  metadata?: Record<string, string>;
}

/** The grpc-js metadata and call options for `options`. */
export function grpcOptions(options: CallOptions | undefined): { metadata: Metadata; call: GrpcCallOptions } {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options?.metadata ?? {})) metadata.set(key, value);
  const call: GrpcCallOptions = {};
  if (options?.timeoutMs !== undefined) call.deadline = Date.now() + options.timeoutMs;
  return { metadata, call };
}

/** Calls `cancel` when `signal` aborts (at once if it already has). */
export function onAbort(signal: AbortSignal | undefined, cancel: () => void): void {
  if (!signal) return;
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
}
