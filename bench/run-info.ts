// Where a run happened and how loaded the machine was.
import { readFileSync } from "node:fs";
import * as os from "node:os";
import type { RunInfo } from "./results";

/** The "some" line of /proc/pressure/cpu: avg60 as a share, total in µs; null without PSI. */
export function cpuPressure(text?: string): { avg60: number; totalUs: number } | null {
  try {
    const some = /^some avg10=[\d.]+ avg60=([\d.]+) avg300=[\d.]+ total=(\d+)$/m.exec(text ?? readFileSync("/proc/pressure/cpu", "utf8"));
    return some ? { avg60: Number(some[1]) / 100, totalUs: Number(some[2]) } : null;
  } catch {
    return null;
  }
}

/** What a run remembers of its start, to describe the machine and its load when it ends. */
export interface RunStart {
  info: RunInfo;
  startedMs: number;
  pressureTotalUs?: number;
}

/** The machine's side of RunInfo, now. */
export function machineInfo(scale: number, startedMs = Date.now()): RunStart {
  const pressure = cpuPressure();
  return {
    info: {
      date: new Date(startedMs).toISOString().replace(/\.\d+Z$/, "Z"),
      scale,
      kernel: os.release(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? "unknown CPU",
      node: process.version,
      loadBefore: os.loadavg()[0],
      loadAfter: NaN,
      durationS: NaN,
      ...(pressure ? { cpuPressureBefore: pressure.avg60 } : {}),
    },
    startedMs,
    pressureTotalUs: pressure?.totalUs,
  };
}

/** The RunInfo of a run that began with `start`, completed now. */
export function finished(start: RunStart, nowMs = Date.now()): RunInfo {
  const pressure = cpuPressure();
  const during = pressure && start.pressureTotalUs !== undefined ? (pressure.totalUs - start.pressureTotalUs) / 1000 / (nowMs - start.startedMs) : undefined;
  return { ...start.info, loadAfter: os.loadavg()[0], durationS: (nowMs - start.startedMs) / 1000, ...(during !== undefined ? { cpuPressureDuring: during } : {}) };
}
