// Processes the cases point at: one target in net+uts namespaces of its own,
// and a crowd of extra processes for the listing case.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { readOrNull, waitFor } from "../test/helpers/proc";

/** A set of processes the bench started; `stop` kills them all. */
export interface Started {
  pid: number;
  stop(): Promise<void>;
}

/** How long the processes may take to start (2,000 of them, on a loaded machine), checked this often (a check scans /proc). */
const START_TIMEOUT_MS = 60_000;
const POLL_MS = 50;

function comm(pid: number): string | undefined {
  return readOrNull(`/proc/${pid}/comm`)?.trim();
}

/** The process group of every process, by pid. */
function processGroups(): Map<number, number> {
  const groups = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOrNull(`/proc/${entry}/stat`); // null: gone meanwhile
    if (stat !== null) groups.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]));
  }
  return groups;
}

function killGroups(children: ChildProcess[]): Promise<void> {
  const exits = children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((resolve) => c.once("exit", resolve)));
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  }
  return Promise.all(exits).then(() => undefined);
}

/** `sleep` in new net and uts namespaces (unshare execs it: same pid); resolves once it sleeps. */
export async function startNetUtsTarget(): Promise<Started> {
  const child = spawn("unshare", ["--net", "--uts", "sleep", "1000"], { stdio: "ignore", detached: true });
  await waitFor(() => comm(child.pid!) === "sleep", START_TIMEOUT_MS, "the net+uts target", POLL_MS);
  return { pid: child.pid!, stop: () => killGroups([child]) };
}

/**
 * `groups` process groups, each in new net and uts namespaces with four
 * sleeps (4 × groups extra processes); resolves once all of them run.
 */
export async function startCrowd(groups: number): Promise<Started & { processes: number; members(): number[] }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < groups; i++) {
    children.push(spawn("unshare", ["--net", "--uts", "sh", "-c", "sleep 1000 & sleep 1000 & sleep 1000 & exec sleep 1000"], { stdio: "ignore", detached: true }));
  }
  const ids = new Set(children.map((c) => c.pid!));
  const sleeping = () => [...processGroups()].filter(([pid, group]) => ids.has(group) && comm(pid) === "sleep").length;
  try {
    await waitFor(() => sleeping() >= 4 * groups, START_TIMEOUT_MS, `${4 * groups} sleeps in ${groups} namespace groups`, POLL_MS);
  } catch (err) {
    await killGroups(children);
    throw err;
  }
  const members = () => [...processGroups()].filter(([pid, group]) => ids.has(group) && comm(pid) === "sleep").map(([pid]) => pid);
  return { pid: children[0].pid!, processes: 4 * groups, members, stop: () => killGroups(children) };
}
