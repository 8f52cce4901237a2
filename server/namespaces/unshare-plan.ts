import type { Duration } from "@bufbuild/protobuf/wkt";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { IdMapping, UnshareOptions } from "../../api/gen/lxnsd/v1/types_pb";
import { kindOf } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";
import type { ChildSpec } from "../../native/lib";
import { invalidArgument } from "../errors";
import { offsetRefusal } from "./time-offsets";
import type { OffsetClock } from "./time-offsets";

/** The kernel's limit on lines in uid_map / gid_map. */
const MAX_MAP_LINES = 340;
const MAX_ID = 2 ** 32;
const MAX_HOSTNAME_BYTES = 64;

/** What a validated Unshare request asks the per-request child to do. */
export interface UnsharePlan {
  /** The new namespaces, in NamespaceType (join) order. */
  kinds: NamespaceKind[];
  spec: ChildSpec;
}

/** The ids the daemon runs as, which map_root maps uid/gid 0 to. */
export interface DaemonIds {
  uid: number;
  gid: number;
}

/**
 * A request with a target context: a new user namespace is made by the
 * target's credentials, so map_root maps to the target's own uid and gid
 * (as its user namespace sees them). With `forbid` (a caller with target
 * rules) only what an unprivileged process could map is allowed: one line
 * each, its own uid and gid, setgroups denied; anything else is the error
 * forbid() returns.
 */
export interface PlanTarget {
  uid: number;
  gid: number;
  forbid?: (what: string) => Error;
}

/** The request fields a plan's errors name; Exec may create no namespace at all. */
export interface PlanFields {
  types: string;
  options: string;
  allowNone?: boolean;
}

/**
 * Validates the types and options of an Unshare (or of an ExecSpec's
 * unshare) and turns them into a child spec: unshare all types at once (lxns
 * unshare_namespaces), write the id maps from the parent, then set hostname,
 * clock offsets and loopback inside.
 */
export function planUnshare(
  types: readonly NamespaceType[],
  options: UnshareOptions | undefined,
  ids: DaemonIds,
  fields: PlanFields = { types: "types", options: "options" },
  target?: PlanTarget,
): UnsharePlan {
  const kinds = checkTypes(types, fields);
  const has = (type: NamespaceType) => kinds.some((kind) => kind.type === type);
  const spec: ChildSpec = { unshareFlags: kinds.reduce((flags, kind) => flags | kind.flag, 0) };
  if (!options) return { kinds, spec };
  const field = fields.options;

  const mapsGiven = options.uidMap.length > 0 || options.gidMap.length > 0;
  if ((options.mapRoot || mapsGiven) && !has(NamespaceType.USER)) throw invalidArgument(`${field}: map_root, uid_map and gid_map need NAMESPACE_TYPE_USER among ${fields.types}`);
  if (options.mapRoot && mapsGiven) throw invalidArgument(`${field}: map_root excludes uid_map and gid_map`);
  if (options.mapRoot && target) {
    spec.idMap = { uidMap: `0 ${target.uid} 1\n`, gidMap: `0 ${target.gid} 1\n`, setgroups: "deny" };
  } else if (options.mapRoot) {
    spec.idMap = { uidMap: `0 ${ids.uid} 1\n`, gidMap: `0 ${ids.gid} 1\n`, setgroups: ids.uid === 0 ? "allow" : "deny" };
  } else if (mapsGiven && target?.forbid) {
    const own = (lines: readonly IdMapping[], id: number) => lines.length === 0 || (lines.length === 1 && lines[0].length === 1 && lines[0].outsideId === id);
    if (!own(options.uidMap, target.uid) || !own(options.gidMap, target.gid)) {
      throw target.forbid(`${field}: id maps other than one line of the target's own uid ${target.uid} and gid ${target.gid}`);
    }
    spec.idMap = { uidMap: mapText(options.uidMap, `${field}.uid_map`), gidMap: mapText(options.gidMap, `${field}.gid_map`), setgroups: "deny" };
  } else if (mapsGiven) {
    spec.idMap = { uidMap: mapText(options.uidMap, `${field}.uid_map`), gidMap: mapText(options.gidMap, `${field}.gid_map`), setgroups: "allow" };
  }

  if (options.hostname !== "") {
    if (!has(NamespaceType.UTS)) throw invalidArgument(`${field}.hostname: needs NAMESPACE_TYPE_UTS among ${fields.types}`);
    if (Buffer.byteLength(options.hostname) > MAX_HOSTNAME_BYTES || options.hostname.includes("\0")) {
      throw invalidArgument(`${field}.hostname: at most ${MAX_HOSTNAME_BYTES} bytes, no NUL`);
    }
    spec.hostname = options.hostname;
  }

  const offsets = [offsetLine(`${field}.monotonic_offset`, "monotonic", options.monotonicOffset), offsetLine(`${field}.boottime_offset`, "boottime", options.boottimeOffset)].filter((line) => line !== "");
  if (offsets.length > 0) {
    if (!has(NamespaceType.TIME)) throw invalidArgument(`${field}: clock offsets need NAMESPACE_TYPE_TIME among ${fields.types}`);
    spec.timensOffsets = offsets.join("");
  }

  if (options.loopbackUp) {
    if (!has(NamespaceType.NET)) throw invalidArgument(`${field}.loopback_up: needs NAMESPACE_TYPE_NET among ${fields.types}`);
    spec.loopbackUp = true;
  }
  return { kinds, spec };
}

function checkTypes(types: readonly NamespaceType[], fields: PlanFields): NamespaceKind[] {
  if (types.length === 0 && !fields.allowNone) throw invalidArgument(`${fields.types}: at least one namespace type is required`);
  const kinds = new Set<NamespaceKind>();
  for (const type of types) {
    const kind = kindOf(type);
    if (!kind) throw invalidArgument(`${fields.types}: unknown or unspecified value ${type}`);
    if (kinds.has(kind)) throw invalidArgument(`${fields.types}: ${kind.name} given twice`);
    kinds.add(kind);
  }
  return [...kinds].sort((a, b) => a.type - b.type);
}

function mapText(lines: readonly IdMapping[], field: string): string {
  if (lines.length > MAX_MAP_LINES) throw invalidArgument(`${field}: at most ${MAX_MAP_LINES} lines`);
  return lines
    .map((line, index) => {
      if (line.length === 0) throw invalidArgument(`${field}[${index}].length: must be at least 1`);
      if (line.insideId + line.length > MAX_ID || line.outsideId + line.length > MAX_ID) {
        throw invalidArgument(`${field}[${index}]: range runs past 2^32`);
      }
      return `${line.insideId} ${line.outsideId} ${line.length}\n`;
    })
    .join("");
}

/**
 * A timens_offsets line ("boottime SECS NANOS"), nanoseconds normalized to
 * [0, 1e9), checked as the kernel will check it: an offset it would refuse
 * (ERANGE) is INVALID_ARGUMENT before any child runs.
 */
function offsetLine(field: string, clock: OffsetClock, offset: Duration | undefined): string {
  if (!offset || (offset.seconds === 0n && offset.nanos === 0)) return "";
  if (offset.nanos <= -1e9 || offset.nanos >= 1e9) throw invalidArgument(`${field}: nanos out of range`);
  let seconds = offset.seconds;
  let nanos = offset.nanos;
  if (nanos < 0) {
    seconds -= 1n;
    nanos += 1e9;
  }
  const refusal = offsetRefusal(clock, seconds, nanos);
  if (refusal) throw invalidArgument(`${field}: ${refusal}`);
  return `${clock} ${seconds} ${nanos}\n`;
}
