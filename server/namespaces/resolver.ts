import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import { NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceInfo, NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import { kindOf } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";
import * as native from "../../native/lib";
import type { Caller } from "../auth/caller";
import { checkOwner, checkProcess, checkRelated, processOfPath } from "../auth/target-guard";
import type { TargetProcess } from "../auth/target-guard";
import { RpcError, fromErrno, invalidArgument, isErrnoLike } from "../errors";
import { isExitingProcess, processExited } from "./exiting-process";
import type { HandleTable } from "./handle-table";
import { describeNamespace, statNamespace } from "./info";
import { whilePinned } from "./process-pin";

/** A namespace fd resolved for one request. Call release() when the request is done with it. */
export interface ResolvedNamespace {
  readonly fd: number;
  readonly kind: NamespaceKind;
  /** A short human description of the reference, for error messages. */
  readonly label: string;
  /** The pid of the process the namespace was reached from (the daemon's for self), when a pid or /proc path named one. */
  readonly origin?: number;
  describe(): NamespaceInfo;
  release(): void;
}

/** What may be left unset in a reference. */
export interface ResolveOptions {
  /** The type assumed when ref.type is unset (GetLimit's user_namespace defaults to USER). */
  defaultType?: NamespaceType;
}

interface Base {
  fd: number;
  label: string;
  release(): void;
  /** A handle was checked when it was made: only its owner may lend it. */
  fromHandle?: boolean;
  /** Known without asking the kernel: /proc/PID/ns/<name> is a namespace of that type. */
  kind?: NamespaceKind;
}

/** The namespace files of a process: /proc/PID/ns/TYPE, /proc/self/ns/TYPE, /proc/thread-self/ns/TYPE. */
const PROC_NS_PATH = /^\/proc\/([1-9][0-9]{0,9}|self|thread-self)\/ns\/(user|cgroup|ipc|net|mnt|pid|time|uts|pid_for_children|time_for_children)$/;
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

  constructor(
    private readonly handles: HandleTable,
    pinDirs: readonly string[],
  ) {
    this.pinDirs = pinDirs.map((dir) => path.posix.resolve(dir));
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
    const origin = this.originOf(ref, field);
    const run = () => this.resolveFrom(ref, field, caller, wanted, origin);
    // The pid is trusted (cgroup read, ns files opened and compared) only while pinned by a pidfd.
    return typeof origin === "number" ? whilePinned(origin, run, (ns) => ns.release()) : run();
  }

  private resolveFrom(ref: NamespaceRef, field: string, caller: Caller, wanted: NamespaceKind | undefined, origin: TargetProcess): ResolvedNamespace {
    const base = this.openSource(ref, field, wanted, caller);
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
    const pid = origin === "self" ? process.pid : origin;
    if (ref.relation === Relation.UNSPECIFIED) return resolved(base, kind, pid);
    let related: ResolvedNamespace;
    try {
      related = this.follow(base, kind, ref.relation, field);
    } finally {
      base.release();
    }
    try {
      // An owner or parent is another namespace than the one named: checked like any other.
      checkRelated(caller, related.fd, related.kind.name, origin, related.label);
      checkOwner(caller, related.fd, related.kind.type, related.label);
    } catch (err) {
      related.release();
      throw err;
    }
    return { ...related, origin: pid };
  }

  private wantedKind(ref: NamespaceRef, field: string, options: ResolveOptions): NamespaceKind | undefined {
    const type = ref.type === NamespaceType.UNSPECIFIED ? options.defaultType : ref.type;
    if (type === undefined || type === NamespaceType.UNSPECIFIED) {
      if (ref.source.case === "handle" || ref.source.case === "path") return undefined;
      throw invalidArgument(`${field}.type: required for a pid or self reference`);
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
        // TODO(target-model): a handle's origin, once the handle table records it.
        return undefined;
      case "path":
        this.checkPath(source.value, `${field}.path`);
        return processOfPath(source.value);
      default:
        throw invalidArgument(`${field}: one of pid, self, handle or path is required`);
    }
  }

  private openSource(ref: NamespaceRef, field: string, kind: NamespaceKind | undefined, caller: Caller): Base {
    const source = ref.source;
    switch (source.case) {
      case "pid": {
        checkProcess(caller, source.value, `process ${source.value}`);
        return { ...openProcessFile(source.value, `/proc/${source.value}/ns/${kind!.name}`), kind };
      }
      case "self":
        checkProcess(caller, "self", "the daemon's namespaces");
        return { ...openFile(`/proc/self/ns/${kind!.name}`, "the daemon's namespace", false), kind };
      case "handle": {
        const lent = this.handles.lend(source.value, caller.key);
        return { fd: lent.fd, label: `handle ${source.value}`, release: lent.release, fromHandle: true };
      }
      case "path": {
        const pid = processOfPath(source.value);
        checkProcess(caller, pid, source.value);
        // A process's ns files are magic links to follow; a pin is the nsfs file itself, and a symlink there is refused.
        return typeof pid === "number" ? openProcessFile(pid, source.value) : openFile(source.value, source.value, pid === undefined);
      }
      default:
        throw invalidArgument(`${field}: one of pid, self, handle or path is required`);
    }
  }

  /** INVALID_ARGUMENT unless `value` is a process's namespace file or an entry of a pin directory; nothing is opened. */
  private checkPath(value: string, field: string): void {
    if (value.includes("\0")) throw invalidArgument(`${field}: contains a NUL byte`);
    if (!path.isAbsolute(value) || path.posix.normalize(value) !== value || value.length > 4096) {
      throw invalidArgument(`${field}: must be an absolute, normalized path`);
    }
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
    return resolved({ fd, label, release: () => native.close(fd) }, parent ? kind : kindOf(NamespaceType.USER)!, undefined);
  }
}

/** openFile of /proc/PID/ns/TYPE; EACCES from a process in the middle of exiting is NOT_FOUND like an exited one. */
function openProcessFile(pid: number, file: string): Base {
  try {
    return openFile(file, `process ${pid}`, false);
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
 * namespace file", the same whatever the file is.
 */
function openFile(file: string, label: string, noFollow: boolean): Base {
  let fd: number;
  try {
    fd = native.openNsPath(file, { noFollow });
  } catch (err) {
    if (isErrnoLike(err) && err.syscall === "fstatfs" && err.code === "ENOTTY") {
      throw new RpcError(status.INVALID_ARGUMENT, `${file}: not a namespace file`, "NOT_A_NAMESPACE", { errno: "ENOTTY", syscall: "fstatfs" }, { cause: err });
    }
    throw isErrnoLike(err) ? fromErrno(err, `open ${file}`) : err;
  }
  return { fd, label, release: () => native.close(fd) };
}

function resolved(base: Base, kind: NamespaceKind, origin: number | undefined): ResolvedNamespace {
  let released = false;
  return {
    fd: base.fd,
    kind,
    label: base.label,
    ...(origin !== undefined ? { origin } : {}),
    describe: () => describeNamespace(base.fd),
    release: () => {
      if (released) return;
      released = true;
      base.release();
    },
  };
}
