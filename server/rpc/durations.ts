import type { Duration } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../errors";

/** google.protobuf.Duration's nanos: at most 999,999,999 either way. */
const MAX_NANOS = 999_999_999;

/**
 * A Duration in whole milliseconds (rounded up), undefined when unset;
 * INVALID_ARGUMENT when negative or when nanos is out of Duration's range.
 * Whole: a fraction would reach a Timestamp (a handle's expires_at) that cannot be encoded.
 */
export function durationMs(duration: Duration | undefined, field: string): number | undefined {
  if (!duration) return undefined;
  if (!Number.isInteger(duration.nanos) || Math.abs(duration.nanos) > MAX_NANOS) throw invalidArgument(`${field}.nanos: must be within ±${MAX_NANOS}`);
  const ms = Math.ceil(Number(duration.seconds) * 1000 + duration.nanos / 1e6);
  if (!Number.isFinite(ms) || ms < 0) throw invalidArgument(`${field}: must not be negative`);
  return ms;
}
