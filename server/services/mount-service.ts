import { realpathSync, statSync } from "node:fs";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { MountService as MountServiceDesc } from "../../api/gen/lxnsd/v1/mount_service_pb";
import type { BindMountRequest } from "../../api/gen/lxnsd/v1/mount_service_pb";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import { RpcError, fromErrno, invalidArgument, isErrnoLike } from "../errors";
import { ownUserNamespaceId, statNamespace } from "../namespaces/info";
import type { NamespaceResolver } from "../namespaces/resolver";
import { addService } from "../rpc/add-service";
import type { RpcHooks } from "../rpc/add-service";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";

/** What the mount service needs from the daemon. */
export interface MountServiceDeps {
  resolver: NamespaceResolver;
  childTimeoutMs: number;
  /** Directories a source must be in, symlinks resolved; ["/"] = anywhere. */
  sourceRoots: readonly string[];
}

/** An absolute, normalized path without NUL, or INVALID_ARGUMENT naming the field. */
function checkPath(value: string, field: string): void {
  if (value.includes("\0")) throw invalidArgument(`${field}: contains a NUL byte`);
  if (!path.isAbsolute(value) || path.posix.normalize(value) !== value || value.length > 4096) {
    throw invalidArgument(`${field}: must be an absolute, normalized path, got ${JSON.stringify(value)}`);
  }
}

/** What create_target_path makes for `source`: a directory for a directory, an empty file otherwise. */
function sourceKind(source: string): "dir" | "file" {
  try {
    return statSync(source).isDirectory() ? "dir" : "file";
  } catch (err) {
    throw isErrnoLike(err) ? fromErrno(err, `stat ${source}`) : err;
  }
}

/**
 * lxnsd.v1.MountService: lxns.mount's bind mount into another process's
 * mount namespace with the new mount API. The daemon clones the source as
 * a detached tree (open_tree OPEN_TREE_CLONE, made read-only with
 * mount_setattr when asked), which changes no namespace; a per-request
 * child joins the target's owning user namespace (when it is not the
 * daemon's) and its mount namespace and attaches the tree with move_mount.
 * On any failure the tree is never attached and dissolves when the daemon
 * closes its fd: nothing is mounted.
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
    checkPath(request.source, "source");
    this.checkSourceRoot(request.source);
    checkPath(request.targetPath, "target_path");
    const mnt = this.deps.resolver.resolve(request.target, "target", context.caller, { defaultType: NamespaceType.MNT });
    const fds: number[] = [];
    try {
      if (mnt.kind.type !== NamespaceType.MNT) {
        throw new RpcError(status.FAILED_PRECONDITION, `target: ${mnt.label} is a ${mnt.kind.name} namespace, not mnt`, "WRONG_NAMESPACE_TYPE");
      }
      const join: native.ChildJoin[] = [];
      const owner = this.call(() => native.nsGetUserns(mnt.fd), `owning user namespace of ${mnt.label}`);
      fds.push(owner);
      if (statNamespace(owner, mnt.label).ino !== this.userNsId) join.push({ fd: owner, nstype: native.CLONE_NEWUSER });
      join.push({ fd: mnt.fd, nstype: native.CLONE_NEWNS });
      const tree = this.call(() => native.openTree(request.source, { recursive: request.recursive, readOnly: request.readOnly }), `clone ${request.source}`);
      fds.push(tree);
      const moveMount = { fd: tree, targetPath: request.targetPath, ...(request.createTargetPath ? { create: sourceKind(request.source) } : {}) };
      try {
        await native.runChild({ join, moveMount, timeoutMs: this.deps.childTimeoutMs }, { signal: context.signal });
      } catch (err) {
        throw isErrnoLike(err) ? fromErrno(err, `bind mount ${request.source} at ${request.targetPath} in ${mnt.label}`) : err;
      }
      context.log.info({ source: request.source, target: mnt.label, targetPath: request.targetPath, readOnly: request.readOnly, recursive: request.recursive }, "bind mounted");
      return {};
    } finally {
      fds.forEach((fd) => native.close(fd));
      mnt.release();
    }
  }

  /** INVALID_ARGUMENT unless `source`, symlinks resolved, is under one of the source roots. */
  private checkSourceRoot(source: string): void {
    const roots = this.deps.sourceRoots;
    if (roots.includes("/")) return;
    const real = this.call(() => realpathSync(source), `resolve ${source}`);
    if (!roots.some((root) => real === root || real.startsWith(`${root}/`))) {
      throw invalidArgument(`source: ${source}${real !== source ? ` (${real})` : ""} is outside the allowed roots (${roots.join(", ")})`);
    }
  }

  private call<T>(fn: () => T, what: string): T {
    try {
      return fn();
    } catch (err) {
      throw isErrnoLike(err) ? fromErrno(err, what) : err;
    }
  }
}
