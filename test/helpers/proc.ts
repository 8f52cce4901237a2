import { readdirSync, readFileSync, statSync } from "node:fs";

/** The inode of /proc/PID/ns/NAME, as `stat -L -c %i` prints it. */
export function nsInode(pid: number | "self", name: string): bigint {
  return statSync(`/proc/${pid}/ns/${name}`, { bigint: true }).ino;
}

/** The device of /proc/PID/ns/NAME. */
export function nsDevice(pid: number | "self", name: string): bigint {
  return statSync(`/proc/${pid}/ns/${name}`, { bigint: true }).dev;
}

/** How many fds this process has open. */
export function countFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Pids whose parent is `pid`, with their state letter (Z = zombie). */
export function childrenOf(pid: number = process.pid): { pid: number; state: string }[] {
  const children: { pid: number; state: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === pid) children.push({ pid: Number(entry), state: fields[0] });
  }
  return children;
}

/** The inodes of the nsfs files this process holds open. */
export function heldNamespaceInodes(): bigint[] {
  const inodes: bigint[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = require("node:fs").readlinkSync(`/proc/self/fd/${fd}`) as string;
      const match = /^\w+:\[(\d+)\]$/.exec(target);
      if (match && !target.startsWith("socket:") && !target.startsWith("pipe:") && !target.startsWith("anon_inode:")) inodes.push(BigInt(match[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Resolves once `check` returns true, polling every 10 ms, or rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
