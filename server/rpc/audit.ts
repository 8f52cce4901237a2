import type { Logger } from "pino";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { parseUnixPeer } from "../auth/unix-peer";

/** Most argv entries, and characters of each string, an audit line keeps. */
const MAX_ARGS = 256;
const MAX_CHARS = 4096;

/** What a call touches beyond its NamespaceRefs (those are `targets`), for its audit line. */
export interface AuditDetails {
  /** Run, Exec: the program and its arguments. */
  argv?: string[];
  /** Types created: Unshare's, or a program's `unshare`. */
  types?: string[];
  /** BindMount: the source in the daemon's view and the path in the target. */
  source?: string;
  targetPath?: string;
  /** Pin, Unpin: the pin's name. */
  pin?: string;
  /** Handles named (Close) or made (Open, Unshare). */
  handles?: string[];
  /** SetLimit, SetSysctl: the value asked for. */
  value?: string;
  /** SetSysctl: the sysctl's name. */
  sysctl?: string;
  /** FileService: the path in the target's root (ReadFile, Stat, ListDirectory, WriteFile). */
  path?: string;
  /** WriteFile: the write mode ("replace", "create_new", "append", "truncate"). */
  writeMode?: string;
}

/** Who a call came from, as the connection says: the unix peer's credentials, or the TCP address and client certificate. */
export interface AuditPeer {
  pid?: number;
  uid?: number;
  gid?: number;
  address?: string;
  /** The client certificate's subject ("CN=runner, O=ci") and subjectAltNames. */
  subject?: string;
  altNames?: string;
}

/** The call, as much of it as the audit needs (grpc-js's server calls). */
export interface PeerSource {
  getPeer(): string;
  getAuthContext?(): { sslPeerCertificate?: { subject?: Record<string, string | string[] | undefined>; subjectaltname?: string } };
}

function clip(value: string): string {
  return value.length > MAX_CHARS ? `${value.slice(0, MAX_CHARS)}…` : value;
}

function typeNames(types: readonly NamespaceType[] | undefined): string[] | undefined {
  if (!types || types.length === 0) return undefined;
  return types.map((type) => (NamespaceType[type] ?? String(type)).toLowerCase());
}

/** The peer of `call` for an audit line. */
export function auditPeer(call: PeerSource): AuditPeer {
  const peer = call.getPeer();
  const unix = parseUnixPeer(peer);
  if (unix) return unix;
  const cert = call.getAuthContext?.().sslPeerCertificate;
  const subject = cert?.subject
    ? Object.entries(cert.subject)
        .flatMap(([key, value]) => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((item) => `${key}=${item}`))
        .join(", ")
    : undefined;
  return { address: peer, ...(subject ? { subject: clip(subject) } : {}), ...(cert?.subjectaltname ? { altNames: clip(cert.subjectaltname) } : {}) };
}

interface SpecLike {
  argv?: readonly string[];
  unshare?: readonly NamespaceType[];
}

/** argv and created types of an ExecSpec. */
export function specDetails(spec: SpecLike | undefined): AuditDetails {
  if (!spec) return {};
  const argv = (spec.argv ?? []).slice(0, MAX_ARGS).map(clip);
  const types = typeNames(spec.unshare);
  return { ...(argv.length > 0 ? { argv } : {}), ...(types ? { types } : {}) };
}

/** What a request of `method` ("Service/Method") touches, from its message (Exec's spec comes later: specDetails). */
export function requestDetails(method: string, request: unknown): AuditDetails {
  const message = (request ?? {}) as Record<string, unknown>;
  switch (method) {
    case "ProcessService/Run":
      return specDetails(message.spec as SpecLike | undefined);
    case "NamespaceService/Unshare": {
      const types = typeNames(message.types as NamespaceType[]);
      return types ? { types } : {};
    }
    case "MountService/BindMount":
      return { source: clip(String(message.source ?? "")), targetPath: clip(String(message.targetPath ?? "")) };
    case "NamespaceService/Pin":
    case "NamespaceService/Unpin":
      return { pin: clip(String(message.name ?? "")) };
    case "NamespaceService/Close":
      return { handles: [clip(String(message.handle ?? ""))] };
    case "NamespaceService/SetLimit":
      return { value: String(message.value ?? "") };
    case "NamespaceService/SetSysctl":
      return { sysctl: clip(String(message.name ?? "")), value: clip(String(message.value ?? "")) };
    case "FileService/ReadFile":
    case "FileService/Stat":
    case "FileService/ListDirectory":
      return { path: clip(String(message.path ?? "")) };
    default:
      return {};
  }
}

/** Handles a response made (Open, Unshare). */
export function responseDetails(response: unknown): AuditDetails {
  const message = (response ?? {}) as { handle?: { id?: string }; handles?: { id?: string }[] };
  const ids = [message.handle?.id, ...(message.handles ?? []).map((handle) => handle.id)].filter((id): id is string => typeof id === "string");
  return ids.length > 0 ? { handles: ids } : {};
}

/** Merges `more` into `details` (lists appended). */
export function addDetails(details: AuditDetails, more: AuditDetails): void {
  for (const [key, value] of Object.entries(more) as [keyof AuditDetails, never][]) {
    const current = details[key];
    (details as Record<string, unknown>)[key] = Array.isArray(current) && Array.isArray(value) ? [...current, ...(value as unknown[])] : value;
  }
}

/** One audit line: who (identity and peer), what (method, targets, details), and how it ended. */
export interface AuditRecord extends AuditDetails {
  identity: string;
  peer: AuditPeer;
  method: string;
  targets: string[];
  outcome: string;
}

/** Writes `record` to the audit stream, with the call's id for the access log. */
export function writeAudit(audit: Logger, call: string, record: AuditRecord): void {
  audit.info({ call, audit: record }, "audit");
}
