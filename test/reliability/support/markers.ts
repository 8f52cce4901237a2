import { randomInt } from "node:crypto";
import { readdirSync } from "node:fs";
import { readOrNull } from "../../helpers/proc";

/**
 * A `sleep` duration unique to this test run ("86400.<digits>"). Programs the
 * suites start carry it on their command line, so that one that escaped the
 * daemon's watch (reparented to init) is still found by scanning /proc.
 */
export function runMarker(): string {
  return `86400.${process.pid}${randomInt(1e6, 1e7)}`;
}

/** Pids of every process whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readOrNull(`/proc/${entry}/cmdline`);
    if (cmdline !== null && cmdline.includes(marker)) pids.push(Number(entry));
  }
  return pids;
}
