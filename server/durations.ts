import type { Duration } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "./errors";

/** A Duration in milliseconds, undefined when unset; INVALID_ARGUMENT when negative. */
export function durationMs(duration: Duration | undefined, field: string): number | undefined {
  if (!duration) return undefined;
  const ms = Number(duration.seconds) * 1000 + duration.nanos / 1e6;
  if (!Number.isFinite(ms) || ms < 0) throw invalidArgument(`${field}: must not be negative`);
  return ms;
}
