import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "commander";
import { IdMappingSchema } from "../../api/gen/lxnsd/v1/types_pb";
import type { IdMapping } from "../../api/gen/lxnsd/v1/types_pb";
import { kindNamed, NAMESPACE_KINDS } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";

// Option-argument parsers for commander. Each throws InvalidArgumentError,
// which commander reports as a usage error (exit status 2).

const MAX_UINT32 = 0xffffffff;

/** A decimal integer in [min, max]; rejects "12abc", "1e3", "0x10". */
export function parseInteger(text: string, min: number, max: number): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new InvalidArgumentError("Not an integer.");
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidArgumentError(`Must be between ${min} and ${max}.`);
  return value;
}

/** A process id: a positive decimal integer. */
export function parsePid(text: string): number {
  return parseInteger(text, 1, 0x7fffffff);
}

/** A call timeout in milliseconds: a positive decimal integer. */
export function parseTimeoutMs(text: string): number {
  return parseInteger(text, 1, 0x7fffffff);
}

/**
 * Seconds as a protobuf Duration, exactly (no float rounding): "3600",
 * "-1.5", "0.000000001". Both fields carry the sign, as Duration requires.
 */
export function parseSeconds(text: string): Duration {
  const match = /^([+-]?)(\d*)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!match || (match[2] === "" && match[3] === undefined)) throw new InvalidArgumentError("Not a number of seconds.");
  const sign = match[1] === "-" ? -1 : 1;
  const seconds = BigInt(match[2] || "0");
  const nanos = Number((match[3] ?? "").padEnd(9, "0"));
  if (seconds > 315576000000n) throw new InvalidArgumentError("Out of range.");
  return create(DurationSchema, { seconds: sign < 0 ? -seconds : seconds, nanos: sign < 0 && nanos !== 0 ? -nanos : nanos });
}

/** Like parseSeconds, but refuses negative values (leases). */
export function parseNonNegativeSeconds(text: string): Duration {
  const duration = parseSeconds(text);
  if (duration.seconds < 0n || duration.nanos < 0) throw new InvalidArgumentError("Must not be negative.");
  return duration;
}

/** A namespace type name ("net", "mnt", "mount", …). */
export function parseKind(text: string): NamespaceKind {
  const kind = kindNamed(text === "mount" ? "mnt" : text);
  if (!kind) throw new InvalidArgumentError(`Not one of ${NAMESPACE_KINDS.map((k) => k.name).join(", ")}.`);
  return kind;
}

/**
 * One uid_map/gid_map line as util-linux unshare spells it: `INNER:OUTER:COUNT`
 * (2.39 and later), or the older `OUTER,INNER,COUNT` of 2.38.
 */
export function parseIdMapping(text: string): IdMapping {
  const colon = /^(\d+):(\d+):(\d+)$/.exec(text.trim());
  const comma = /^(\d+),(\d+),(\d+)$/.exec(text.trim());
  if (!colon && !comma) throw new InvalidArgumentError("Expected INNER:OUTER:COUNT.");
  const [inside, outside, length] = colon ? [colon[1], colon[2], colon[3]] : [comma![2], comma![1], comma![3]];
  const ids = [inside, outside, length].map((id) => parseInteger(id, 0, MAX_UINT32));
  if (ids[2] < 1) throw new InvalidArgumentError("COUNT must be at least 1.");
  return create(IdMappingSchema, { insideId: ids[0], outsideId: ids[1], length: ids[2] });
}

/** Commander collector for repeatable options: appends each parsed value. */
export function collect<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}
