import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import { RpcError, isErrnoLike } from "../errors";
import { cgroupOfLine } from "./cgroup-names";
import type { CgroupLine } from "./cgroup-names";
import { sameCgroup } from "./container-index";
import type { IndexedContainer } from "./container-index";

/** A process of a container: its pid and start time (field 22 of /proc/PID/stat). */
export interface ContainerProcess {
  pid: number;
  startTime: bigint;
}

/** NOT_FOUND, reason CONTAINER_NOT_FOUND. */
export function containerNotFound(message: string): RpcError {
  return new RpcError(status.NOT_FOUND, message, "CONTAINER_NOT_FOUND");
}

/**
 * The init of `container`: of the processes in its cgroup, those whose
 * parent is not in it (its init, and what `exec` added), the one started
 * first. NOT_FOUND when its cgroup is gone; undefined when it has no
 * process (not running). Only reads: what it says is trusted only once the
 * process is pinned and confirmInContainer() has passed.
 */
export function initOf(container: IndexedContainer): ContainerProcess | undefined {
  let text: string;
  try {
    // Found from its processes: those pids (each is confirmed in the container once pinned).
    text = container.dir === "" ? (container.pids ?? []).join("\n") : readFileSync(path.join(container.dir, "cgroup.procs"), "utf8");
  } catch (err) {
    if (isErrnoLike(err) && (err.code === "ENOENT" || err.code === "ENODEV")) throw containerNotFound(`container ${container.id.slice(0, 12)} is gone`);
    throw err;
  }
  const pids = pidsOf(text);
  return firstInit(pids, [...pids].map((pid) => ({ pid, stat: statOf(pid) })));
}

/**
 * initOf without blocking: of `container`'s processes, the one whose parent
 * is not among them, started first; undefined when it has none (or its
 * cgroup is gone). Only reads, as initOf.
 */
export async function initPidOf(container: IndexedContainer): Promise<number | undefined> {
  const text = container.dir === "" ? (container.pids ?? []).join("\n") : await readFile(path.join(container.dir, "cgroup.procs"), "utf8").catch(() => "");
  const pids = pidsOf(text);
  const stats = await Promise.all([...pids].map(async (pid) => ({ pid, stat: parseStat(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")) })));
  return firstInit(pids, stats)?.pid;
}

/** The pids of a cgroup.procs text. */
function pidsOf(text: string): Set<number> {
  return new Set(text.split("\n").filter(Boolean).map(Number));
}

/** Of `pids` (with their stats; none: gone), those whose parent is not among them, the one started first. */
function firstInit(pids: ReadonlySet<number>, stats: Iterable<{ pid: number; stat: { ppid: number; startTime: bigint } | undefined }>): ContainerProcess | undefined {
  let first: ContainerProcess | undefined;
  for (const { pid, stat } of stats) {
    if (!stat || pids.has(stat.ppid)) continue;
    if (!first || stat.startTime < first.startTime) first = { pid, startTime: stat.startTime };
  }
  return first;
}

/** The pod's sandbox without a runtime to name it: of its running containers, the one whose init started first. */
export function firstStarted(containers: readonly IndexedContainer[]): { container: IndexedContainer; init: ContainerProcess } | undefined {
  let first: { container: IndexedContainer; init: ContainerProcess } | undefined;
  for (const container of containers) {
    let init: ContainerProcess | undefined;
    try {
      init = initOf(container);
    } catch {
      continue; // gone meanwhile
    }
    if (init && (!first || init.startTime < first.init.startTime)) first = { container, init };
  }
  return first;
}

/**
 * NOT_FOUND unless process `pid` (pinned by the caller) is still in
 * `container`'s cgroup: a container that restarted, or a pid reused, never
 * lends another process's namespaces.
 */
export function confirmInContainer(pid: number, container: IndexedContainer, line: CgroupLine): void {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    // gone: not in it
  }
  const cgroup = cgroupOfLine(text, line);
  if (cgroup === undefined || !sameCgroup(cgroup, container.cgroup)) {
    throw containerNotFound(`container ${container.id.slice(0, 12)}: its process ${pid} is no longer in it (it exited or the container restarted)`);
  }
}

/** ppid and start time from /proc/PID/stat; undefined when the process is gone. */
function statOf(pid: number): { ppid: number; startTime: bigint } | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** ppid and start time from the text of /proc/PID/stat; undefined for none. */
function parseStat(stat: string): { ppid: number; startTime: bigint } | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(" ");
  return fields.length > 19 ? { ppid: Number(fields[1]), startTime: BigInt(fields[19]) } : undefined;
}
