import { readdirSync, readlinkSync } from "node:fs";

/**
 * What this process holds through the kinds of fd the daemon and its addon open
 * per request: namespaces (nsfs, `net:[4026…]`), pipes and pidfds, as
 * "FD -> LINK". Sockets, eventfds and files are left out: the jest process
 * opens and closes its own (gRPC connections of earlier test files close
 * seconds later), so an fd count drifts where the holdings do not.
 */
export function fdHoldings(pid: number | "self" = "self"): Set<string> {
  const held = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return held;
  }
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (/^(cgroup|ipc|mnt|net|pid|pid_for_children|time|time_for_children|user|uts|pipe):\[\d+\]$/.test(link) || link === "anon_inode:[pidfd]") {
      held.add(`${fd} -> ${link}`);
    }
  }
  return held;
}

/** The holdings present now that were not in `before` (what was opened since, and not closed). */
export function newHoldings(before: Set<string>, pid: number | "self" = "self"): string[] {
  return [...fdHoldings(pid)].filter((entry) => !before.has(entry)).sort();
}

/** The kinds of new holdings ("net", "pipe", "anon_inode:[pidfd]"), sorted, for exact expectations. */
export function newHoldingKinds(before: Set<string>, pid: number | "self" = "self"): string[] {
  return newHoldings(before, pid)
    .map((entry) => entry.split(" -> ")[1])
    .map((link) => (link.startsWith("anon_inode:") ? link : link.replace(/:\[\d+\]$/, "")))
    .sort();
}

/** Resolves once nothing is held that was not in `before`; rejects after `timeoutMs` naming what is still held. */
export async function waitForNoNewHoldings(before: Set<string>, timeoutMs = 3000, what = "the fds of the calls"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const extra = newHoldings(before);
    if (extra.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}: still held after ${timeoutMs} ms: ${extra.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
