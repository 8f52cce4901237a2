// A process's memory from /proc/PID/status, and watching its peak.
import { writeFileSync } from "node:fs";
import { statusField } from "../test/helpers/proc";

/** Field `name` (VmRSS, VmHWM, …: "N kB") of /proc/PID/status in MiB. */
export function statusMiB(pid: number, name: string): number {
  return parseInt(statusField(pid, name), 10) / 1024;
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
