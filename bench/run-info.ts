// Where a run happened and how loaded the machine was.
import * as os from "node:os";
import type { RunInfo } from "./results";

/** The machine's side of RunInfo, now; the caller fills in the rest at the end. */
export function machineInfo(scale: number): RunInfo {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    scale,
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown CPU",
    node: process.version,
    loadBefore: os.loadavg()[0],
    loadAfter: NaN,
    durationS: NaN,
  };
}

/** `info` completed at the end of a run that started at `startedMs`. */
export function finished(info: RunInfo, startedMs: number): RunInfo {
  return { ...info, loadAfter: os.loadavg()[0], durationS: (Date.now() - startedMs) / 1000 };
}
