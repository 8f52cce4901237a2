// The shape of one bench run, as written to bench/results.json.

/** The concurrencies every case is driven at. */
export const CONCURRENCIES = [1, 8, 64] as const;
export type Concurrency = (typeof CONCURRENCIES)[number];

/** One measured operation: lxnsd's or a baseline's. */
export interface CaseResult {
  /** Stable key, e.g. "inspect", "nsenter-true". */
  id: string;
  /** What the table row says. */
  label: string;
  /** Who does the work: lxnsd through gRPC, or a baseline. */
  side: "lxnsd" | "baseline";
  /** p50 and p99 of one call in sequence, ms. */
  p50Ms: number;
  p99Ms: number;
  /** Sequential samples behind p50/p99. */
  samples: number;
  /** What `rate` counts. */
  unit: "ops/s" | "MB/s";
  /** For a baseline that forks the bench process (child_process): the bench process's VmRSS when the case began. */
  callerRssMiB?: number;
  /** For a case that runs lxnsctl as a process: its peak RSS (VmHWM), MiB. */
  peakRssMiB?: number;
  /** Calls that failed and were made again within the same timing (lsns racing with exiting processes). */
  repeatedCalls?: number;
  /** Completed work per second at each concurrency (key: the concurrency); a full run has all three. */
  rate: Partial<Record<`${Concurrency}`, number>>;
}

/** The daemon's memory around 64 concurrent Execs, MiB. */
export interface MemoryResult {
  /** Concurrent Exec streams and the stdout bytes each carried. */
  streams: number;
  bytesPerStream: number;
  /** VmRSS just before (a fresh daemon after one warm-up Exec), the highest sampled during, and after. */
  rssBeforeMiB: number;
  rssPeakSampledMiB: number;
  rssAfterMiB: number;
  /** VmHWM after the streams, the high-water mark having been reset just before them. */
  hwmMiB: number;
  /** The daemon that served every other case, at their end: VmRSS, and VmHWM since its start. */
  endRssMiB?: number;
  endHwmMiB?: number;
}

/** A ratio of two measurements, checked against a goal when it is a target. */
export interface Check {
  id: string;
  label: string;
  value: number;
  /** How `value` is printed, e.g. "×" for ratios, "MiB". */
  unit: string;
  goal?: { op: "<=" | ">="; value: number };
  met?: boolean;
  /** The same comparison as speed against the baseline (higher is better), for the chart. */
  speedup?: number;
  /** What `speedup` divides, e.g. "nsenter p50 ÷ Run p50". */
  speedupLabel?: string;
  /** The goal as a speedup, for the chart. */
  speedupGoal?: number;
}

/** Where and under what conditions the run happened. */
export interface RunInfo {
  date: string;
  scale: number;
  kernel: string;
  cpus: number;
  cpuModel: string;
  node: string;
  /** 1-minute load average before and after the run (after includes the bench's own concurrency-64 phases). */
  loadBefore: number;
  loadAfter: number;
  /**
   * CPU pressure (PSI "some", /proc/pressure/cpu): the share of time some task
   * waited for a CPU, over the minute before the run and during the run (the
   * bench's own load included); absent where the kernel has no PSI.
   */
  cpuPressureBefore?: number;
  cpuPressureDuring?: number;
  durationS: number;
}

export interface BenchResults {
  run: RunInfo;
  cases: CaseResult[];
  memory: MemoryResult;
  checks: Check[];
}
