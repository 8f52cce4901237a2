import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { MountService as MountServiceDesc } from "../../api/gen/lxnsd/v1/mount_service_pb";
import type { BindMountRequest } from "../../api/gen/lxnsd/v1/mount_service_pb";
import { NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { Caller } from "../auth/caller";
import { isRestricted } from "../auth/target-guard";
import * as native from "../../native/lib";
import { FileIo } from "../files/file-io";
import { isDirectory } from "../files/file-info";
import { RpcError, fromErrno, invalidArgument, isErrnoLike, nativeCall } from "../errors";
import { ownUserNamespaceId, statNamespace } from "../namespaces/info";
import type { NamespaceResolver, ResolvedNamespace } from "../namespaces/resolver";
import { addService } from "../rpc/add-service";
import { checkAbsolutePath, deepestRoot } from "../rpc/paths";
import type { RpcHooks } from "../rpc/add-service";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";

const O_PATH = 0o10000000;

function forbiddenSource(caller: Caller, source: string): RpcError {
  return new RpcError(status.PERMISSION_DENIED, `${caller.name} may not mount ${source}: not beneath its mount-sources`, "TARGET_FORBIDDEN");
}

/** What the mount service needs from the daemon. */
export interface MountServiceDeps {
  resolver: NamespaceResolver;
  childTimeoutMs: number;
  /** Directories a source must be in, symlinks resolved; ["/"] = anywhere. */
  sourceRoots: readonly string[];
}

/** What create_target_path makes for the source at `fd`: a directory for a directory, an empty file otherwise. */
async function sourceKind(io: FileIo, fd: number, source: string): Promise<"dir" | "file"> {
  return isDirectory((await nativeCall(`stat ${source}`, () => io.statFd(fd))).mode) ? "dir" : "file";
}

/**
 * lxnsd.v1.MountService: lxns.mount's bind mount into another process's
 * mount namespace with the new mount API. The daemon clones the source as
 * a detached tree (open_tree OPEN_TREE_CLONE, made read-only with
 * mount_setattr when asked), which changes no namespace; a per-request
 * child joins the target's owning user namespace (when it is not the
 * daemon's) and its mount namespace and attaches the tree with move_mount.
 * On any failure the tree is never attached and dissolves when the daemon
 * closes its fd: nothing is mounted. The source is looked up (and
 * stat'ed) on threads of their own (files/file-io.ts), holding the call's
 * slot: a source on a hung mount stalls only its own call, which answers
 * at its deadline.
 */
export class MountService implements ServiceImpl<typeof MountServiceDesc> {
  private readonly userNsId = ownUserNamespaceId();

  constructor(private readonly deps: MountServiceDeps) {}

  /** Registers this service on `server`. */
  addTo(server: Server, hooks: RpcHooks): void {
    addService(server, MountServiceDesc, this as unknown as Record<string, unknown>, hooks);
  }

  /**
   * INVALID_ARGUMENT for a relative or unnormalized source or target_path
   * or a malformed target; NOT_FOUND for a missing source, target_path,
   * process or handle; FAILED_PRECONDITION when the target is not a mount
   * namespace.
   */
  async bindMount(request: BindMountRequest, context: CallContext) {
    checkAbsolutePath(request.source, "source", { quote: true });
    checkAbsolutePath(request.targetPath, "target_path", { quote: true });
    const caller = context.caller;
    const io = new FileIo(context);
    const fds: number[] = [];
    const mnt = this.deps.resolver.resolve(request.target, "target", caller, { defaultType: NamespaceType.MNT });
    try {
      if (mnt.kind.type !== NamespaceType.MNT) {
        throw new RpcError(status.FAILED_PRECONDITION, `target: ${mnt.label} is a ${mnt.kind.name} namespace, not mnt`, "WRONG_NAMESPACE_TYPE");
      }
      const source = await this.openSource(request.source, caller, io);
      fds.push(source);
      const join: native.ChildJoin[] = [];
      fds.push(this.ownerOf(mnt, request, caller));
      const owner = fds[fds.length - 1];
      if (statNamespace(owner, mnt.label).ino !== this.userNsId) join.push({ fd: owner, nstype: native.CLONE_NEWUSER });
      join.push({ fd: mnt.fd, nstype: native.CLONE_NEWNS });
      // The very file checked against the roots: open_tree of the fd, the path is not looked up again.
      const tree = nativeCall(`clone ${request.source}`, () => native.openTreeFd(source, { recursive: request.recursive, readOnly: request.readOnly }));
      fds.push(tree);
      const moveMount = { fd: tree, targetPath: request.targetPath, ...(request.createTargetPath ? { create: await sourceKind(io, source, request.source) } : {}) };
      const what = `bind mount ${request.source} at ${request.targetPath} in ${mnt.label}`;
      await nativeCall(what, () => native.runChild({ join, moveMount, timeoutMs: this.deps.childTimeoutMs }, { signal: context.signal }));
      context.log.info({ source: request.source, target: mnt.label, targetPath: request.targetPath, readOnly: request.readOnly, recursive: request.recursive }, "bind mounted");
      return {};
    } finally {
      // The source's fd through io: closed once no lookup of it is in flight.
      fds.forEach((fd, i) => (i === 0 ? void io.close(fd) : native.close(fd)));
      mnt.release();
    }
  }

  /**
   * The user namespace the child joins before the target's mount namespace:
   * the mount namespace's owner. For a restricted caller it is resolved as
   * a reference of its own (relation OWNER of the target), checked like
   * any other; an owner that is not the target's is refused.
   */
  private ownerOf(mnt: ResolvedNamespace, request: BindMountRequest, caller: Caller): number {
    if (!isRestricted(caller)) return nativeCall(`owning user namespace of ${mnt.label}`, () => native.nsGetUserns(mnt.fd));
    const owner = this.deps.resolver.resolve({ ...request.target!, type: NamespaceType.MNT, relation: Relation.OWNER }, "target", caller);
    try {
      return native.openPath(`/proc/self/fd/${owner.fd}`);
    } finally {
      owner.release();
    }
  }

  /**
   * `source` resolved once, race-free, to an O_PATH fd beneath the deepest
   * root that contains it: the --mount-source-root roots and, for a caller
   * with `mount-sources`, those. openat2 RESOLVE_BENEATH refuses "..",
   * symlinks that leave the root and magic links; the fd is then what is
   * mounted. A restricted caller without mount-sources may mount nothing.
   * Outside the daemon's roots: INVALID_ARGUMENT; outside the caller's:
   * PERMISSION_DENIED (TARGET_FORBIDDEN).
   */
  private async openSource(source: string, caller: Caller, io: FileIo): Promise<number> {
    const own = caller.targets?.mountSources;
    if (isRestricted(caller) && !own) {
      throw new RpcError(status.PERMISSION_DENIED, `${caller.name} may not mount anything (no mount-sources in its policy)`, "TARGET_FORBIDDEN");
    }
    const roots = this.deps.sourceRoots.includes("/") ? ["/"] : this.deps.sourceRoots;
    const daemonRoot = deepestRoot(source, roots);
    if (daemonRoot === undefined) throw invalidArgument(`source: ${source} is outside the allowed roots (${roots.join(", ")})`);
    const callerRoot = own ? deepestRoot(source, own) : undefined;
    if (own && callerRoot === undefined) throw forbiddenSource(caller, source);
    // Both contain source, so one contains the other: resolve beneath the deeper.
    const root = callerRoot !== undefined && callerRoot.length > daemonRoot.length ? callerRoot : daemonRoot;
    const byCaller = root === callerRoot;
    if (root === "/" && !byCaller) return await nativeCall(`open ${source}`, () => io.openPath(source, O_PATH));
    const relative = path.posix.relative(root, source) || ".";
    try {
      return await io.openBeneath(root, relative);
    } catch (err) {
      if (isErrnoLike(err) && err.syscall === "openat2" && (err.code === "EXDEV" || err.code === "ELOOP")) {
        if (byCaller) throw forbiddenSource(caller, source);
        throw invalidArgument(`source: ${source} leaves the allowed root ${root} (through ".." or a symlink)`);
      }
      throw isErrnoLike(err) ? fromErrno(err, `resolve ${source}`) : err;
    }
  }
}
