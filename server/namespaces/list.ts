import { statSync } from "node:fs";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import type { NamespaceSummarySchema, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS, kindOf } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";
import * as native from "../../native/lib";
import { RpcError, fromErrno, invalidArgument, isErrnoLike, nativeCall } from "../errors";
import { isExitingProcess, processExited } from "./exiting-process";
import { SharedScan } from "./shared-scan";

/** One lsns row on the wire. */
export type Summary = MessageInitShape<typeof NamespaceSummarySchema>;

/** The key that tells namespaces apart across scans: type and inode. */
export function rowKey(row: native.NsScanRow): string {
  return `${row.type}:${row.ino}`;
}

/**
 * The set of type names a request asks for: all when `types` is empty.
 * INVALID_ARGUMENT for UNSPECIFIED or a value the enum does not know.
 */
export function typeFilter(types: readonly NamespaceType[]): Set<string> {
  const kinds = types.map((type) => {
    const kind = kindOf(type);
    if (!kind) throw invalidArgument(`types: ${type} is not a namespace type`);
    return kind;
  });
  return new Set((kinds.length > 0 ? kinds : NAMESPACE_KINDS).map((kind: NamespaceKind) => kind.name));
}

/**
 * The inodes of every namespace `pid` is in (stat /proc/PID/ns/*, as lsns -p).
 * INVALID_ARGUMENT for pid < 0, NOT_FOUND when there is no such process.
 */
export function namespacesOfPid(pid: number): Set<bigint> {
  if (!Number.isInteger(pid) || pid <= 0) throw invalidArgument("pid: must be > 0 (0 means every process)");
  const inodes = new Set<bigint>();
  try {
    statSync(`/proc/${pid}/ns`);
  } catch (err) {
    if (isErrnoLike(err) && err.code === "ENOENT") throw new RpcError(status.NOT_FOUND, `no process ${pid}`, "ESRCH", { errno: "ESRCH" });
    throw isErrnoLike(err) ? fromErrno(err, `stat /proc/${pid}/ns`) : err;
  }
  for (const kind of NAMESPACE_KINDS) {
    // A zombie keeps only some of its ns files: the others are simply not listed.
    let stat;
    try {
      stat = statSync(`/proc/${pid}/ns/${kind.name}`, { bigint: true, throwIfNoEntry: false });
    } catch (err) {
      if (isErrnoLike(err) && err.code === "EACCES" && isExitingProcess(pid)) throw processExited(pid, err);
      throw isErrnoLike(err) ? fromErrno(err, `stat /proc/${pid}/ns/${kind.name}`) : err;
    }
    if (stat) inodes.add(stat.ino);
  }
  return inodes;
}

/** A scan row as the NamespaceSummary message (NamespaceInfo filled as Inspect fills it). */
export function toSummary(row: native.NsScanRow): Summary {
  const kind = NAMESPACE_KINDS.find((k) => k.name === row.type)!;
  return {
    info: {
      type: kind.type,
      nsId: row.ino,
      device: row.dev,
      ownerUserNsId: row.ownerIno,
      ...(row.ownerUid !== undefined ? { ownerUid: row.ownerUid } : {}),
      ...(row.parentIno !== undefined ? { parentNsId: row.parentIno } : {}),
    },
    processCount: row.nprocs,
    pid: row.pid,
    uid: row.uid,
    command: row.command,
  };
}

/** scanNamespaces with its one failure (an unreadable /proc) as a status. */
function scanOnce(): Promise<native.NsScanRow[]> {
  return nativeCall("scan /proc", () => native.scanNamespaces());
}

/** The one scan in flight that every ListNamespaces call and the WatchNamespaces poller share (see SharedScan for freshness). */
export const sharedScan = new SharedScan(scanOnce);

/**
 * Every namespace some process is in, from a scan that started after this
 * call (shared with the calls made meanwhile). The rows are shared: never change them.
 */
export function scanRows(): Promise<readonly native.NsScanRow[]> {
  return sharedScan.get();
}
