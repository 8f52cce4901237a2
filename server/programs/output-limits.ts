/**
 * How much output one Run answer may carry. stdout and stderr each hold up to
 * `max_output_bytes`, and the whole RunResponse must fit in one gRPC message
 * (--max-message-bytes), or it would fail with RESOURCE_EXHAUSTED only after
 * the program ran. So the largest cap a caller may name is what fits twice in
 * a message with room for the rest of the answer, and the daemon refuses at
 * start a message limit too small for the default cap.
 */

/** Output kept per stream when the caller names no cap (the contract's "0 means 1 MiB"). */
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;
/** The most a caller may name, whatever the message limit. */
export const MAX_MAX_OUTPUT = 16 * 1024 * 1024;
/** Room in a RunResponse for everything but the two outputs: field tags and lengths, the exit status, `truncated` (a few dozen bytes; generous). */
export const RUN_ANSWER_OVERHEAD = 1024;

/** The largest `max_output_bytes` whose answer fits in a message of `maxMessageBytes`. */
export function largestOutputCap(maxMessageBytes: number): number {
  return Math.min(MAX_MAX_OUTPUT, Math.floor((maxMessageBytes - RUN_ANSWER_OVERHEAD) / 2));
}

/** The smallest --max-message-bytes that carries a Run answer at the default cap. */
export const MIN_MAX_MESSAGE_BYTES = 2 * DEFAULT_MAX_OUTPUT + RUN_ANSWER_OVERHEAD;

/** Why `maxMessageBytes` cannot carry a Run answer at the default cap; undefined when it can. */
export function messageLimitProblem(maxMessageBytes: number): string | undefined {
  if (maxMessageBytes >= MIN_MAX_MESSAGE_BYTES) return undefined;
  return (
    `--max-message-bytes ${maxMessageBytes} is too small: a Run answer at the default max_output_bytes ` +
    `(${DEFAULT_MAX_OUTPUT} per stream, stdout and stderr) needs at least ${MIN_MAX_MESSAGE_BYTES}`
  );
}
