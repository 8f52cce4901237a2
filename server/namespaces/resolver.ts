import * as path from "node:path";
import { PROC_NS_PATH } from "../../api/pin-paths";
import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { NamespaceRefSchema, NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceInfo, NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import { kindOf } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";
import * as native from "../../native/lib";
import type { Caller } from "../auth/caller";
import { checkOwner, checkProcess, checkRelated, isRestricted, processOfPath, targetForbidden } from "../auth/target-guard";
import type { TargetProcess } from "../auth/target-guard";
import type { CgroupLine } from "../containers/cgroup-names";
import type { ContainerTargets } from "../containers/container-targets";
import { RpcError, fromErrno, invalidArgument, isErrnoLike } from "../errors";
import { checkAbsolutePath } from "../rpc/paths";
import { isExitingProcess, processExited } from "./exiting-process";
import type { HandleOrigin, HandleTable } from "./handle-table";
import { describeNamespace, statNamespace } from "./info";
import { whilePinned } from "./process-pin";

/** A namespace fd resolved for one request. Call release() when the request is done with it. */
export interface ResolvedNamespace {
  readonly fd: number;
  readonly kind: NamespaceKind;
  /** A short human description of the reference, for error messages. */
  readonly label: string;
  /**
   * The pid of the process the namespace was reached from: a pid
   * reference, a /proc/PID/ns/TYPE path, or a handle or pin made from a
   * process (still that process: same start time). Undefined otherwise
   * (self, other paths, a handle made otherwise).
   */
  readonly origin?: number;
  /** That process's start time (field 22 of /proc/PID/stat), read when it was resolved. */
  readonly originStartTime?: string;
  /** A handle or pin made from a process that is gone (or replaced): its origin is unknown. */
  readonly originGone?: boolean;
  describe(): NamespaceInfo;
  release(): void;
}

/** What may be left unset in a reference. */
export interface ResolveOptions {
  /** The type assumed when ref.type is unset (GetLimit's user_namespace defaults to USER). */
  defaultType?: NamespaceType;
  /**
   * false: the caller has no use for the origin's start time (it checks no
   * target against it: an unrestricted Run's joins), so a process's
   * /proc/PID/stat is not read and originStartTime stays unset; origin is
   * still the pid named. Default true.
   */
  originStartTime?: boolean;
}

interface Base {
  fd: number;
  label: string;
  release(): void;
  /** A handle was checked when it was made: only its owner may lend it. */
  fromHandle?: boolean;
  /** Known without asking the kernel: /proc/PID/ns/<name> is a namespace of that type. */
  kind?: NamespaceKind;
  origin?: number;
  originStartTime?: string;
  originGone?: boolean;
}

/** A pin: one name directly inside a pin directory. */
const PIN_ENTRY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * Turns a NamespaceRef into an nsfs fd held by the daemon: opening
 * /proc/PID/ns/TYPE, lending a handle's fd, or opening a path (a process's
 * namespace file or a pin); then following the relation with NS_GET_USERNS
 * / NS_GET_PARENT. Never forks, never blocks (paths are opened O_PATH and
 * must be nsfs before anything else) and never changes the daemon's
 * namespaces. A process named by pid is held by a pidfd from before its
 * cgroup is read until after its namespace files are opened and compared.
 */
export class NamespaceResolver {
  /**
   * @param pinDirs directories whose entries (DIR/NAME, one level) a path
   *   may name: the state dir's ns/, the netns dir, --ns-path-root.
   */
  private readonly pinDirs: readonly string[];

  /**
   * `originOfPath`: the process a path (a pin) was made from, if known.
   * `containers`: turns container references into processes; undefined:
   * container references are FAILED_PRECONDITION.
   */
  constructor(
    private readonly handles: HandleTable,
    pinDirs: readonly string[],
    private readonly originOfPath: (file: string) => HandleOrigin | undefined = () => undefined,
    private readonly containers?: ContainerTargets,
  ) {
    this.pinDirs = pinDirs.map((dir) => path.posix.resolve(dir));
  }

  /** The /proc/PID/cgroup line that names containers on this host. */
  cgroupLine(): CgroupLine {
    return this.containers?.index.options.line ?? "0::";
  }

  /**
   * Readies what resolving the container and pod references in `message`
   * needs (a fresh container index); call before resolve(). For a `caller`
   * with pod-namespace rules and a CRI runtime, the runtime's pods too (what
   * its target checks read), at most maxAgeMs old.
   */
  async prepare(message: unknown, caller?: Caller): Promise<void> {
    await this.containers?.prepare(message);
    if (caller?.targets?.podNamespaces && this.containers?.index.options.runtime) await this.containers.index.fresh();
  }

  /**
   * Resolves `ref` for `caller`: a handle only for its owner, anything else
   * only within the caller's target rules (PERMISSION_DENIED otherwise). An
   * OWNER or PARENT answer is checked too, handles' included: against the
   * user-namespace rules, and for cgroup rules it must be a namespace of
   * the process the reference named.
   */
  resolve(ref: NamespaceRef | undefined, field: string, caller: Caller, options: ResolveOptions = {}): ResolvedNamespace {
    if (!ref) throw invalidArgument(`${field}: a namespace reference is required`);
    const wanted = this.wantedKind(ref, field, options);
    if (!(ref.relation in Relation)) throw invalidArgument(`${field}.relation: unknown value ${ref.relation}`);
    const startTime = options.originStartTime !== false;
    if (ref.source.case === "container") return this.resolveContainer(ref, field, caller, wanted, startTime);
    const origin = this.originOf(ref, field);
    const run = () => this.resolveFrom(ref, field, caller, wanted, origin, startTime);
    // The pid is trusted (cgroup read, ns files opened and compared) only while pinned by a pidfd.
    return typeof origin === "number" ? whilePinned(origin, run, (ns) => ns.release()) : run();
  }

  /**
   * The process a reference names, for a target context (Unshare's
   * target): a pid (its type ignored), /proc/PID/ns/TYPE, self (the
   * daemon), or a handle made from a process that is still there (then with
   * its start time, to confirm). INVALID_ARGUMENT for anything that names no
   * process; a handle whose process is gone: PERMISSION_DENIED for a caller
   * with target rules, NOT_FOUND for others. The rules themselves are
   * checked on the process's context (openTargetProcess).
   */
  resolveProcess(ref: NamespaceRef | undefined, field: string, caller: Caller): { pid: number; startTime?: string } {
    if (!ref) throw invalidArgument(`${field}: a process reference is required`);
    if (ref.relation !== Relation.UNSPECIFIED) throw invalidArgument(`${field}.relation: a target is a process, not a related namespace`);
    const source = ref.source;
    switch (source.case) {
      case "pid":
        if (source.value <= 0) throw invalidArgument(`${field}.pid: must be > 0, got ${source.value}`);
        return { pid: source.value };
      case "self":
        if (!source.value) throw invalidArgument(`${field}.self: must be true when set`);
        return { pid: process.pid };
      case "path": {
        this.checkPath(source.value, `${field}.path`);
        const owner = processOfPath(source.value);
        if (owner !== undefined) return { pid: owner === "self" ? process.pid : owner };
        return recordedProcess(this.originOfPath(source.value), `${field}.path: ${source.value}`, caller);
      }
      case "handle": {
        const lent = this.handles.lend(source.value, caller.key);
        lent.release();
        return recordedProcess(lent.origin, `${field}.handle: handle ${source.value}`, caller);
      }
      case "container":
        return this.containerTargets(field).whileChosen(source.value, `${field}.container`, (pid) => ({ pid, startTime: native.processStartTime(pid) }));
      default:
        throw invalidArgument(`${field}: one of pid, self, handle, path or container is required`);
    }
  }

  /**
   * A container reference: the container's (or pod sandbox's) init is
   * chosen, pinned by a pidfd, its namespace file opened as a pid
   * reference's would be, and only then confirmed still in that
   * container's cgroup (NOT_FOUND otherwise: it restarted, or the pid is
   * another process's now).
   */
  private resolveContainer(ref: NamespaceRef, field: string, caller: Caller, wanted: NamespaceKind | undefined, startTime: boolean): ResolvedNamespace {
    const source = ref.source;
    if (source.case !== "container") throw new Error("not a container reference");
    return this.containerTargets(field).whileChosen(
      source.value,
      `${field}.container`,
      (pid) => this.resolveFrom(create(NamespaceRefSchema, { type: ref.type, relation: ref.relation, source: { case: "pid", value: pid } }), field, caller, wanted, pid, startTime),
      (ns) => ns.release(),
    );
  }

  /** The container targets, or FAILED_PRECONDITION when this daemon finds no containers. */
  containerTargets(field: string): ContainerTargets {
    if (!this.containers) throw new RpcError(status.FAILED_PRECONDITION, `${field}.container: this daemon finds no containers (no cgroup hierarchy to read)`, "CONTAINERS_UNAVAILABLE");
    return this.containers;
  }

  private resolveFrom(ref: NamespaceRef, field: string, caller: Caller, wanted: NamespaceKind | undefined, origin: TargetProcess, startTime: boolean): ResolvedNamespace {
    const base = this.openSource(ref, field, wanted, caller, startTime);
    let kind: NamespaceKind;
    try {
      kind = base.kind ?? statNamespace(base.fd, base.label).kind;
      if (wanted && wanted !== kind) {
        throw new RpcError(status.FAILED_PRECONDITION, `${base.label} is a ${kind.name} namespace, not ${wanted.name}`, "WRONG_NAMESPACE_TYPE");
      }
      // A handle's own namespace was checked when it was made.
      if (!base.fromHandle) checkOwner(caller, base.fd, kind.type, base.label);
    } catch (err) {
      base.release();
      throw err;
    }
    if (ref.relation === Relation.UNSPECIFIED) return resolved(base, kind);
    let related: ResolvedNamespace;
    try {
      related = this.follow(base, kind, ref.relation, field);
    } finally {
      base.release();
    }
    try {
      // An owner or parent is another namespace than the one named: checked like any other.
      checkRelated(caller, related.fd, related.kind.name, origin ?? base.origin, related.label);
      checkOwner(caller, related.fd, related.kind.type, related.label);
    } catch (err) {
      related.release();
      throw err;
    }
    return { ...related, origin: base.origin, originStartTime: base.originStartTime, originGone: base.originGone };
  }

  private wantedKind(ref: NamespaceRef, field: string, options: ResolveOptions): NamespaceKind | undefined {
    const type = ref.type === NamespaceType.UNSPECIFIED ? options.defaultType : ref.type;
    if (type === undefined || type === NamespaceType.UNSPECIFIED) {
      if (ref.source.case === "handle" || ref.source.case === "path") return undefined;
      throw invalidArgument(`${field}.type: required for a pid, self or container reference`);
    }
    const kind = kindOf(type);
    if (!kind) throw invalidArgument(`${field}.type: unknown value ${type}`);
    return kind;
  }

  /** The process a reference names (validating the source); undefined for handles and pins. */
  private originOf(ref: NamespaceRef, field: string): TargetProcess {
    const source = ref.source;
    switch (source.case) {
      case "pid":
        if (source.value <= 0) throw invalidArgument(`${field}.pid: must be > 0, got ${source.value}`);
        return source.value;
      case "self":
        if (!source.value) throw invalidArgument(`${field}.self: must be true when set`);
        return "self";
      case "handle":
        // Its recorded origin, if any, is read when it is lent (openSource).
        return undefined;
      case "path":
        this.checkPath(source.value, `${field}.path`);
        return processOfPath(source.value);
      default:
        throw invalidArgument(`${field}: one of pid, self, handle or path is required`);
    }
  }

  private openSource(ref: NamespaceRef, field: string, kind: NamespaceKind | undefined, caller: Caller, startTime: boolean): Base {
    const source = ref.source;
    switch (source.case) {
      case "pid": {
        checkProcess(caller, source.value, `process ${source.value}`);
        return withOrigin({ ...openProcessFile(source.value, `/proc/${source.value}/ns/${kind!.name}`, true), kind }, source.value, startTime);
      }
      case "self":
        checkProcess(caller, "self", "the daemon's namespaces");
        return { ...openFile(`/proc/self/ns/${kind!.name}`, "the daemon's namespace", false, true), kind };
      case "handle": {
        const lent = this.handles.lend(source.value, caller.key);
        return withRecordedOrigin({ fd: lent.fd, label: `handle ${source.value}`, release: lent.release, fromHandle: true }, lent.origin);
      }
      case "path": {
        const pid = processOfPath(source.value);
        // A pin made from a process is checked as that process, while it runs.
        const recorded = pid === undefined ? this.originOfPath(source.value) : undefined;
        const live = recorded && startTimeOf(recorded.pid) === recorded.startTime ? recorded.pid : undefined;
        checkProcess(caller, pid ?? live, source.value);
        // A process's ns files are magic links to follow; a pin is the nsfs file itself, and a symlink there is refused.
        if (typeof pid === "number") return withOrigin(openProcessFile(pid, source.value, false), pid, startTime);
        return withRecordedOrigin(openFile(source.value, source.value, pid === undefined), recorded);
      }
      default:
        throw invalidArgument(`${field}: one of pid, self, handle or path is required`);
    }
  }

  /** INVALID_ARGUMENT unless `value` is a process's namespace file or an entry of a pin directory; nothing is opened. */
  private checkPath(value: string, field: string): void {
    checkAbsolutePath(value, field);
    if (PROC_NS_PATH.test(value)) return;
    if (PIN_ENTRY.test(path.posix.basename(value)) && this.pinDirs.includes(path.posix.dirname(value))) return;
    throw invalidArgument(`${field}: must be /proc/PID/ns/TYPE or a pin (NAME directly in ${this.pinDirs.join(", ")})`);
  }

  private follow(base: Base, kind: NamespaceKind, relation: Relation, field: string): ResolvedNamespace {
    const parent = relation === Relation.PARENT;
    if (parent && kind.type !== NamespaceType.PID && kind.type !== NamespaceType.USER) {
      throw invalidArgument(`${field}.relation: only pid and user namespaces have a parent, ${base.label} is ${kind.name}`);
    }
    const what = parent ? "parent" : "owning user namespace";
    let fd: number;
    try {
      fd = parent ? native.nsGetParent(base.fd) : native.nsGetUserns(base.fd);
    } catch (err) {
      if (isErrnoLike(err) && err.code === "EPERM") {
        throw new RpcError(status.NOT_FOUND, `the ${what} of ${base.label} is outside the daemon's view`, "EPERM", { errno: "EPERM", syscall: err.syscall ?? "ioctl" }, { cause: err });
      }
      throw isErrnoLike(err) ? fromErrno(err, `${what} of ${base.label}`) : err;
    }
    const label = `the ${what} of ${base.label}`;
    return resolved({ fd, label, release: () => native.close(fd) }, parent ? kind : kindOf(NamespaceType.USER)!);
  }
}

/** openFile of /proc/PID/ns/TYPE (`spelled`: by the daemon); EACCES from a process in the middle of exiting is NOT_FOUND like an exited one. */
function openProcessFile(pid: number, file: string, spelled: boolean): Base {
  try {
    return openFile(file, `process ${pid}`, false, spelled);
  } catch (err) {
    if (err instanceof RpcError && err.code === status.PERMISSION_DENIED && isExitingProcess(pid)) {
      throw processExited(pid, err, "open");
    }
    throw err;
  }
}

/**
 * openNsPath: O_PATH (with `noFollow`, O_NOFOLLOW), nsfs confirmed by
 * fstatfs, then a real open. Anything else is INVALID_ARGUMENT "not a
 * namespace file", the same whatever the file is. A `spelled` path is a
 * /proc/PID/ns/TYPE the daemon spelled itself from a pid (or self) and a
 * known type: procfs makes that an nsfs link, opened at once (one open
 * instead of open, fstatfs, open and close: a Run's joins felt them).
 */
function openFile(file: string, label: string, noFollow: boolean, spelled = false): Base {
  let fd: number;
  try {
    fd = spelled ? native.openPath(file) : native.openNsPath(file, { noFollow });
  } catch (err) {
    if (isErrnoLike(err) && err.syscall === "fstatfs" && err.code === "ENOTTY") {
      throw new RpcError(status.INVALID_ARGUMENT, `${file}: not a namespace file`, "NOT_A_NAMESPACE", { errno: "ENOTTY", syscall: "fstatfs" }, { cause: err });
    }
    throw isErrnoLike(err) ? fromErrno(err, `open ${file}`) : err;
  }
  return { fd, label, release: () => native.close(fd) };
}

/** The start time of process `pid`, or undefined when it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    return native.processStartTime(pid);
  } catch {
    return undefined;
  }
}

/** `base` (a handle's or pin's fd) with the process it was made from as its origin, if that process is still there. */
function withRecordedOrigin(base: Base, origin: HandleOrigin | undefined): Base {
  if (!origin) return base;
  const same = startTimeOf(origin.pid) === origin.startTime;
  return same ? { ...base, origin: origin.pid, originStartTime: origin.startTime } : { ...base, originGone: true };
}

/** The process a handle or pin was made from, for a target: INVALID_ARGUMENT when none was recorded; gone: PERMISSION_DENIED for a restricted caller, NOT_FOUND for others. */
function recordedProcess(origin: HandleOrigin | undefined, what: string, caller: Caller): { pid: number; startTime: string } {
  if (!origin) throw invalidArgument(`${what} was not made from a process`);
  if (startTimeOf(origin.pid) !== origin.startTime) {
    const gone = `${what}: the process it was made from is gone`;
    throw isRestricted(caller) ? targetForbidden(caller, gone) : processExited(origin.pid, new Error(gone));
  }
  return { ...origin };
}

/** `base`, opened from process `pid`, with that process as its origin (none if it is gone by now); without `readStartTime`, as its origin unread. */
function withOrigin(base: Base, pid: number, readStartTime: boolean): Base {
  if (!readStartTime) return { ...base, origin: pid };
  const startTime = startTimeOf(pid);
  return startTime === undefined ? { ...base, originGone: true } : { ...base, origin: pid, originStartTime: startTime };
}

function resolved(base: Base, kind: NamespaceKind): ResolvedNamespace {
  let released = false;
  return {
    fd: base.fd,
    kind,
    label: base.label,
    origin: base.origin,
    originStartTime: base.originStartTime,
    originGone: base.originGone,
    describe: () => describeNamespace(base.fd),
    release: () => {
      if (released) return;
      released = true;
      base.release();
    },
  };
}
