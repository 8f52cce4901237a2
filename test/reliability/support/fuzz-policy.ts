import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import type { DescMethod } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { NamespaceRefSchema, Relation } from "../../../client";
import type { BindMountRequest, ExecRequest, ExecSpec, ListDirectoryRequest, NamespaceRef, PinRequest, ReadFileRequest, RunRequest, SetLimitRequest, SetSysctlRequest, StatRequest, UnshareRequest, WriteFileRequest } from "../../../client";

/** What the fuzzed requests may act on: only things the suite made. */
export interface FuzzWorld {
  /** A process the suite started in namespaces of its own (user, mnt with private propagation, net, uts, ipc, pid). */
  targetPid: number;
  /** A pid above pid_max: no process has it. */
  noSuchPid: number;
  /** Handles of namespaces the suite created (never the host's). */
  handles: string[];
  /** Of those, a user namespace: the only place SetLimit may write. */
  userHandle: string;
  /** A scratch directory: the only place BindMount may read from or mount on. */
  scratch: string;
}

/** Programs a fuzzed ExecSpec may run: harmless, or missing. */
export const SAFE_PROGRAMS = ["/bin/true", "true", "/bin/cat", "/nonexistent/lxnsd-fuzz"];

function pick<T>(items: readonly T[], seed: number): T {
  return items[Math.abs(seed) % items.length];
}

/**
 * A reference the daemon will act on (join, pin, mount into): a positive
 * pid becomes the suite's target or a pid nobody has; `self` (the host's
 * namespaces) becomes the target unless `allowSelf`. Handles and paths stay:
 * every handle and every path under the allowed roots is the suite's.
 */
function tameRef(ref: NamespaceRef | undefined, world: FuzzWorld, allowSelf: boolean): void {
  if (!ref) return;
  const source = ref.source;
  if (source.case === "pid" && source.value > 0 && source.value !== world.targetPid) {
    source.value = source.value % 2 === 0 ? world.targetPid : world.noSuchPid + (source.value % 1000);
  } else if (source.case === "self" && !allowSelf) {
    ref.source = { case: "pid", value: world.targetPid };
  }
}

/** A path that passes the daemon's checks (absolute, normalized, no NUL) is moved into the scratch dir. */
function tamePath(value: string, world: FuzzWorld): string {
  const acceptable = !value.includes("\0") && path.isAbsolute(value) && path.posix.normalize(value) === value && value.length <= 4096;
  if (!acceptable || value === world.scratch || value.startsWith(`${world.scratch}/`)) return value;
  return path.join(world.scratch, `p${value.length % 7}`);
}

/** Joining the host's namespaces is harmless for these programs; a random pid is not: see tameRef. */
export function tameExecSpec(spec: ExecSpec | undefined, world: FuzzWorld): void {
  if (!spec) return;
  spec.join.forEach((ref) => tameRef(ref, world, true));
  if (spec.argv.length > 0 && !spec.argv[0].includes("\0") && !SAFE_PROGRAMS.includes(spec.argv[0])) spec.argv[0] = pick(SAFE_PROGRAMS, spec.argv[0].length);
}

/** SetLimit writes only into a user namespace the suite created: never the daemon's own (unset, self, a parent or owner). */
export function tameSetLimit(request: SetLimitRequest, world: FuzzWorld): void {
  const ref = request.userNamespace;
  if (!ref || ref.source.case === "self" || ref.source.case === "path" || ref.source.case === undefined) {
    request.userNamespace = create(NamespaceRefSchema, { type: ref?.type ?? 0, relation: ref?.relation ?? 0, source: { case: "handle", value: world.userHandle } });
  } else {
    tameRef(ref, world, false);
  }
  if (request.userNamespace!.relation in Relation) request.userNamespace!.relation = Relation.UNSPECIFIED;
}

/**
 * SetSysctl writes only into namespaces the suite made: a pid becomes the
 * target (whose net, uts, ipc and user namespaces are its own) or nobody;
 * self, a path or no reference becomes one of the suite's handles; never a
 * relation (an owner or parent may be the host's).
 */
export function tameSetSysctl(request: SetSysctlRequest, world: FuzzWorld): void {
  const ref = request.ref;
  if (!ref || ref.source.case === "self" || ref.source.case === "path" || ref.source.case === undefined) {
    request.ref = create(NamespaceRefSchema, { type: ref?.type ?? 0, source: { case: "handle", value: pick(world.handles, request.name.length) } });
  } else {
    tameRef(ref, world, false);
  }
  request.ref!.relation = Relation.UNSPECIFIED;
}

/** An Unshare's target is a process the new namespaces are made from: the suite's target, or one nobody has. */
export function tameUnshare(request: UnshareRequest, world: FuzzWorld): void {
  tameRef(request.target, world, false);
}

export function tamePin(request: PinRequest, world: FuzzWorld): void {
  tameRef(request.ref, world, false);
}

export function tameBindMount(request: BindMountRequest, world: FuzzWorld): void {
  request.source = tamePath(request.source, world);
  request.targetPath = tamePath(request.targetPath, world);
  request.target ??= create(NamespaceRefSchema, { source: { case: "pid", value: world.targetPid } });
  tameRef(request.target, world, false);
}

/**
 * A WriteFile writes only beneath the scratch dir: a path FileService takes
 * (absolute, no NUL, at most PATH_MAX; ".." and symlinks allowed, as
 * RESOLVE_IN_ROOT keeps them in the root, which for the suite's target is
 * the host's own) that is not plainly beneath scratch (no ".." component)
 * moves there; the mount is the suite's target (self, a pid) or as fuzzed
 * (handles are the suite's; a path names no mount namespace of the host's).
 */
export function tameWriteFile(request: WriteFileRequest, world: FuzzWorld): void {
  if (request.msg.case !== "header") return;
  const header = request.msg.value;
  const taken = !header.path.includes("\0") && header.path.startsWith("/") && header.path.length <= 4096;
  const beneath = header.path.startsWith(`${world.scratch}/`) && !header.path.split("/").includes("..");
  if (taken && !beneath) header.path = path.join(world.scratch, `w${header.path.length % 7}`);
  tameRef(header.mount, world, false);
}

/** Reads touch nothing: only their pid is the suite's target or nobody (self, the host's files, is harmless to read). */
export function tameFileRead(request: ReadFileRequest | StatRequest | ListDirectoryRequest, world: FuzzWorld): void {
  tameRef(request.mount, world, true);
}

/** Makes a fuzzed request of `method` safe to send, in place: nothing outside what the suite made is touched. */
export function tameRequest(method: DescMethod, message: unknown, world: FuzzWorld): void {
  switch (method.name) {
    case "Run":
      tameExecSpec((message as RunRequest).spec, world);
      break;
    case "Exec":
      if ((message as ExecRequest).msg.case === "spec") tameExecSpec((message as ExecRequest).msg.value as ExecSpec, world);
      break;
    case "SetLimit":
      tameSetLimit(message as SetLimitRequest, world);
      break;
    case "Unshare":
      tameUnshare(message as UnshareRequest, world);
      break;
    case "Pin":
      tamePin(message as PinRequest, world);
      break;
    case "BindMount":
      tameBindMount(message as BindMountRequest, world);
      break;
    case "SetSysctl":
      tameSetSysctl(message as SetSysctlRequest, world);
      break;
    case "WriteFile":
      tameWriteFile(message as WriteFileRequest, world);
      break;
    case "ReadFile":
    case "Stat":
    case "ListDirectory":
      tameFileRead(message as ReadFileRequest, world);
      break;
  }
}

const CALLER_ERRORS = [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.PERMISSION_DENIED];

/**
 * The statuses each method may answer a fuzzed request with (DESIGN.md's
 * table). Never INTERNAL, UNKNOWN or UNAVAILABLE: those are daemon bugs.
 */
export const ALLOWED: Readonly<Record<string, readonly status[]>> = {
  Inspect: CALLER_ERRORS,
  GetCurrentNamespaces: [status.OK],
  // PERMISSION_DENIED: a pid whose /proc/PID/ns the daemon may not read (EACCES).
  ListNamespaces: [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED],
  // CANCELLED: the suite ends each watch itself after its first answer.
  WatchNamespaces: [status.OK, status.INVALID_ARGUMENT, status.CANCELLED],
  Open: CALLER_ERRORS,
  Close: [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND],
  // NOT_FOUND, FAILED_PRECONDITION: a target (a process, handle or pin) that is gone or closed.
  Unshare: [...CALLER_ERRORS, status.RESOURCE_EXHAUSTED],
  GetLimit: CALLER_ERRORS,
  SetLimit: CALLER_ERRORS,
  Pin: [...CALLER_ERRORS, status.ALREADY_EXISTS],
  Unpin: [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND],
  // RESOURCE_EXHAUSTED: namespace limits; DEADLINE_EXCEEDED: spec.timeout.
  Run: [...CALLER_ERRORS, status.RESOURCE_EXHAUSTED, status.DEADLINE_EXCEEDED],
  Exec: [...CALLER_ERRORS, status.RESOURCE_EXHAUSTED, status.DEADLINE_EXCEEDED],
  BindMount: CALLER_ERRORS,
  GetSysctl: CALLER_ERRORS,
  SetSysctl: CALLER_ERRORS,
  // README, FileService: ALREADY_EXISTS for CREATE_NEW; RESOURCE_EXHAUSTED for --max-file-bytes, a huge listing, EFBIG.
  ReadFile: [...CALLER_ERRORS, status.RESOURCE_EXHAUSTED],
  WriteFile: [...CALLER_ERRORS, status.ALREADY_EXISTS, status.RESOURCE_EXHAUSTED],
  Stat: CALLER_ERRORS,
  ListDirectory: [...CALLER_ERRORS, status.RESOURCE_EXHAUSTED],
};
