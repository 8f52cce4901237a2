// Drives a group of subjects (lxnsd calls and their baselines) through the
// same plan: sequential rounds taking turns in blocks, then each concurrency in turn.
import { statusMiB } from "./proc-memory";
import { CONCURRENCIES } from "./results";
import { scaled } from "./scale";
import type { CaseResult, Concurrency } from "./results";
import { concurrentRate, interleavedSamples, sequentialRate, summarize } from "./stats";
import type { Operation } from "./stats";

/** Turns of 10 calls: see interleavedSamples. */
const BLOCK = 10;

/** One thing to measure. */
export interface Subject {
  id: string;
  label: string;
  side: CaseResult["side"];
  unit: CaseResult["unit"];
  /** One call, sized for being driven at `concurrency` (most ignore it). */
  op: (concurrency: number) => Operation;
  /** Runs through child_process, so forks the bench process: its size is recorded with the result (callerRssMiB). */
  forks?: boolean;
  /** Work one call at `concurrency` does, in `unit` × seconds (MB for MB/s); 1 when unset. */
  work?: (concurrency: number) => number;
}

export interface Plan {
  /** Sequential rounds (each subject once per round) after `warmup` unmeasured ones. */
  rounds: number;
  warmup: number;
  /** Sequential calls of one subject before the next takes its turn (default BLOCK). */
  block?: number;
  /**
   * Unmeasured calls each subject makes at the start of each of its blocks
   * (default 0). After a block of a baseline that forks this process, the
   * calls that follow are slower for longer than a block of 10: ReadFile
   * 1 KiB took 4.6 ms as the first call after 30 `nsenter cat`, 2.6 ms as
   * the fourth and 1.7 ms from about the twentieth on (medians of 20
   * blocks), what the fork leaves this process to pay, not the call.
   */
  settle?: number;
  /** Calls made at each concurrency above 1. */
  calls: (concurrency: number) => number;
  /** The concurrencies to drive at (default CONCURRENCIES); 1 always comes from the sequential rounds. */
  concurrencies?: readonly Concurrency[];
}

/**
 * Blocks for a group whose baseline forks this process (execFile of nsenter
 * or unshare) and whose calls take milliseconds: 20 calls, each block after
 * 20 unmeasured ones (Plan.settle). Not for lsns (500 ms a call), where a
 * fork's few milliseconds are lost in the call.
 */
export function forkBlocks(scale: number): Pick<Plan, "block" | "settle"> {
  return { block: 20, settle: scaled(20, scale, 0) };
}

/** Measures every subject: p50/p99 from the sequential rounds, then the rate at each concurrency. */
export async function measure(subjects: readonly Subject[], plan: Plan): Promise<CaseResult[]> {
  const callerRssMiB = statusMiB(process.pid, "VmRSS");
  const sequential = await interleavedSamples(
    subjects.map((s) => s.op(1)),
    plan.rounds,
    plan.warmup,
    plan.block ?? BLOCK,
    plan.settle ?? 0,
  );
  const results = subjects.map((s, i): CaseResult => {
    const { p50, p99 } = summarize(sequential[i]);
    const work = s.work?.(1) ?? 1;
    const result: CaseResult = { id: s.id, label: s.label, side: s.side, p50Ms: p50, p99Ms: p99, samples: sequential[i].length, unit: s.unit, rate: { "1": work * sequentialRate(sequential[i]) } };
    return s.forks ? { ...result, callerRssMiB } : result;
  });
  for (const concurrency of plan.concurrencies ?? CONCURRENCIES) {
    if (concurrency === 1) continue;
    for (const [i, s] of subjects.entries()) {
      const rate = await concurrentRate(s.op(concurrency), concurrency, plan.calls(concurrency));
      results[i].rate[`${concurrency}`] = (s.work?.(concurrency) ?? 1) * rate;
    }
  }
  return results;
}
