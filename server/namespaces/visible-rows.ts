import { readFile, readdir, stat } from "node:fs/promises";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import * as native from "../../native/lib";
import type { Caller } from "../auth/caller";
import { cgroupTextAllowed, checkOwner, isRestricted, processRules } from "../auth/target-guard";
import { rowKey } from "./list";
import { SharedScan } from "./shared-scan";

/**
 * What a restricted identity may see of a /proc scan (ListNamespaces,
 * WatchNamespaces): only namespaces it could touch, described only through
 * processes it could touch. Command lines can hold secrets; a row that names
 * a process outside its targets would hand them out.
 *
 * - cgroup rules: the namespaces some process under an allowed cgroup is in.
 *   The row's pid, uid and command are those of the lowest such process, and
 *   its process count counts only such processes.
 * - user-namespace rules: the namespaces owned, at any depth, by an allowed
 *   user namespace (and those user namespaces themselves), as Inspect checks them.
 * - both: rows that pass both.
 */
export async function visibleRows(rows: readonly native.NsScanRow[], caller: Caller): Promise<readonly native.NsScanRow[]> {
  if (!isRestricted(caller)) return rows;
  let visible = rows;
  if (processRules(caller)) visible = await rowsOfProcessesUnder(visible, caller);
  if (caller.targets?.userNamespaces) visible = rowsOwnedByAllowed(visible, rows, caller);
  return visible;
}

/** What a row says about its process, for the lowest allowed process in each namespace. */
interface Member {
  pid: number;
  uid: number;
  command: string;
  count: number;
}

/**
 * One walk of /proc per set of cgroup prefixes at a time, shared by the calls
 * that ask meanwhile as the namespace scan is (see SharedScan): one per
 * identity with cgroup rules, which the policy bounds.
 */
const walks = new Map<string, SharedScan<Map<string, Member>>>();

async function rowsOfProcessesUnder(rows: readonly native.NsScanRow[], caller: Caller): Promise<native.NsScanRow[]> {
  // One shared walk per set of rules (cgroup prefixes and pod namespaces).
  const key = JSON.stringify([caller.targets?.cgroupPrefixes, caller.targets?.podNamespaces]);
  let walk = walks.get(key);
  if (!walk) {
    walk = new SharedScan(() => membersUnder((text) => cgroupTextAllowed(caller, text)));
    walks.set(key, walk);
  }
  const members = await walk.get();
  const visible: native.NsScanRow[] = [];
  for (const row of rows) {
    const member = members.get(rowKey(row));
    if (member) visible.push({ ...row, pid: member.pid, uid: member.uid, command: member.command, nprocs: member.count });
  }
  return visible;
}

/** For each namespace (type:inode) some allowed process (by its /proc/PID/cgroup text) is in: the lowest such process, and how many there are. */
async function membersUnder(allowed: (cgroupText: string) => boolean): Promise<Map<string, Member>> {
  const pids = (await readdir("/proc")).filter((name) => /^[1-9]\d*$/.test(name)).map(Number);
  const members = new Map<string, Member>();
  const found = await Promise.all(pids.map((pid) => allowedProcess(pid, allowed)));
  for (const process of found) {
    if (!process) continue;
    for (const key of process.keys) {
      const member = members.get(key);
      if (!member) members.set(key, { pid: process.pid, uid: process.uid, command: process.command, count: 1 });
      else {
        member.count += 1;
        if (process.pid < member.pid) Object.assign(member, { pid: process.pid, uid: process.uid, command: process.command });
      }
    }
  }
  return members;
}

/**
 * A process under one of `prefixes`: its namespaces (type:inode), uid (of
 * /proc/PID, as lsns) and command; undefined for any other, or one that went
 * away. Its start time is read before and after: a pid reused meanwhile is skipped.
 */
async function allowedProcess(pid: number, allowed: (cgroupText: string) => boolean): Promise<{ pid: number; uid: number; command: string; keys: string[] } | undefined> {
  try {
    const started = await startTime(pid);
    if (!allowed(await readFile(`/proc/${pid}/cgroup`, "utf8"))) return undefined;
    const { uid } = await stat(`/proc/${pid}`);
    const keys: string[] = [];
    for (const kind of NAMESPACE_KINDS) {
      // A zombie keeps only some of its ns files, as in the scan.
      const ns = await stat(`/proc/${pid}/ns/${kind.name}`, { bigint: true }).catch(() => undefined);
      if (ns) keys.push(`${kind.name}:${ns.ino}`);
    }
    // Never readFile(cmdline): a process can keep the lock that read takes for good (see processCommand).
    const command = await native.processCommand(pid);
    if ((await startTime(pid)) !== started) return undefined;
    return { pid, uid, command, keys };
  } catch {
    return undefined; // gone
  }
}

/** Field 22 of /proc/PID/stat: when the process started, which a reused pid does not share. */
async function startTime(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ")[19];
}

/**
 * The rows owned at any depth by one of the caller's user namespaces. The
 * owner chains come from the scan's user namespace rows (each knows its
 * parent); where a chain passes a user namespace no process is in, the
 * namespace itself is opened and checked as Inspect checks it.
 */
function rowsOwnedByAllowed(visible: readonly native.NsScanRow[], all: readonly native.NsScanRow[], caller: Caller): native.NsScanRow[] {
  const allowed = new Set((caller.targets?.userNamespaces ?? []).map((held) => held.ino));
  const parentOf = new Map<bigint, bigint | undefined>();
  for (const row of all) if (row.type === "user") parentOf.set(row.ino, row.parentIno);
  const owned = (row: native.NsScanRow): boolean => {
    let current: bigint | undefined = row.type === "user" ? row.ino : row.ownerIno;
    // User namespaces nest at most 32 deep.
    for (let depth = 0; depth <= 33 && current !== undefined && current !== 0n; depth += 1) {
      if (allowed.has(current)) return true;
      if (!parentOf.has(current)) return checkedByFd(row, caller);
      current = parentOf.get(current);
    }
    return false;
  };
  return visible.filter(owned);
}

/** The target check of Inspect on the namespace of `row`, opened through its process (confirmed by inode). */
function checkedByFd(row: native.NsScanRow, caller: Caller): boolean {
  const kind = NAMESPACE_KINDS.find((entry) => entry.name === row.type)!;
  let fd: number;
  try {
    fd = native.openPath(`/proc/${row.pid}/ns/${row.type}`);
  } catch {
    return false;
  }
  try {
    if (native.nsStat(fd).ino !== row.ino) return false;
    checkOwner({ ...caller, targets: { userNamespaces: caller.targets?.userNamespaces } }, fd, kind.type, `${row.type} ${row.ino}`);
    return true;
  } catch {
    return false;
  } finally {
    native.close(fd);
  }
}
