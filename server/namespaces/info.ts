import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { NamespaceInfoSchema, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceInfo } from "../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS, kindOfFlag } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";
import * as native from "../../native/lib";
import { RpcError, fromErrno, isErrnoLike } from "../errors";

// The API's table and the addon's must name the same types in the same order with the same flags.
if (JSON.stringify(NAMESPACE_KINDS.map(({ name, flag }) => ({ name, flag }))) !== JSON.stringify(native.NS_TYPES)) {
  throw new Error("api/namespace-types.ts and native/lib's NS_TYPES differ");
}

/** Identity and type of the namespace behind an nsfs fd; INVALID_ARGUMENT when the fd is not a namespace. */
export function statNamespace(fd: number, what: string): { ino: bigint; dev: bigint; kind: NamespaceKind } {
  let stat: { ino: bigint; dev: bigint; nstype: number };
  try {
    stat = native.nsStat(fd);
  } catch (err) {
    if (isErrnoLike(err) && err.code === "ENOTTY") throw new RpcError(status.INVALID_ARGUMENT, `${what} is not a namespace file`, "ENOTTY", { errno: "ENOTTY" }, { cause: err });
    throw isErrnoLike(err) ? fromErrno(err, what) : err;
  }
  const kind = kindOfFlag(stat.nstype);
  if (!kind) throw new RpcError(status.UNIMPLEMENTED, `${what} is a namespace of unknown type 0x${stat.nstype.toString(16)}`, "UNKNOWN_NSTYPE");
  return { ino: stat.ino, dev: stat.dev, kind };
}

/**
 * Calls an NS_GET_* ioctl that yields another namespace and gives that
 * namespace's inode, or undefined where the kernel says it is out of view (EPERM).
 */
function relatedInode(fd: number, ioctl: (fd: number) => number): bigint | undefined {
  let related: number;
  try {
    related = ioctl(fd);
  } catch (err) {
    if (isErrnoLike(err) && err.code === "EPERM") return undefined;
    throw err;
  }
  try {
    return native.nsStat(related).ino;
  } finally {
    native.close(related);
  }
}

/** Everything the kernel tells about the namespace behind `fd` (lxns ns_id, get_user_namespace, NS_GET_*). */
export function describeNamespace(fd: number): NamespaceInfo {
  const { ino, dev, kind } = statNamespace(fd, "namespace fd");
  const info = create(NamespaceInfoSchema, {
    type: kind.type,
    nsId: ino,
    device: dev,
    ownerUserNsId: relatedInode(fd, native.nsGetUserns) ?? 0n,
  });
  if (kind.type === NamespaceType.USER) info.ownerUid = native.nsGetOwnerUid(fd);
  if (kind.type === NamespaceType.USER || kind.type === NamespaceType.PID) info.parentNsId = relatedInode(fd, native.nsGetParent);
  return info;
}

const ownNamespaces = new Map<string, bigint>();

/** The id of the daemon's own namespace of `kind` (it never changes: the daemon never changes its namespaces). */
export function ownNamespaceId(kind: NamespaceKind): bigint {
  let id = ownNamespaces.get(kind.name);
  if (id === undefined) {
    const fd = native.openPath(`/proc/self/ns/${kind.name}`);
    try {
      id = native.nsStat(fd).ino;
    } finally {
      native.close(fd);
    }
    ownNamespaces.set(kind.name, id);
  }
  return id;
}

/** The daemon's own user namespace id. */
export function ownUserNamespaceId(): bigint {
  return ownNamespaceId(NAMESPACE_KINDS[0]);
}
