// A process's memory from /proc/PID/status, and watching its peak.
import { readFileSync, writeFileSync } from "node:fs";

/** Field `name` (VmRSS, VmHWM, …) of /proc/PID/status in MiB. */
export function statusMiB(pid: number, name: string): number {
  const m = new RegExp(`^${name}:\\s*(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no ${name} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Resets VmHWM to the current VmRSS (clear_refs 5), so that a later VmHWM is the peak since now. */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** Samples VmRSS every `everyMs` until stopped; `stop()` gives the highest sample in MiB. */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = statusMiB(pid, "VmRSS");
  const timer = setInterval(() => (peak = Math.max(peak, statusMiB(pid, "VmRSS"))), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, statusMiB(pid, "VmRSS"));
    },
  };
}
