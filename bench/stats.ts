// How the benches time things: sequential samples (for p50/p99 and ops/s at
// concurrency 1) and a fixed number of calls kept `concurrency` deep.

/** An async operation to time; resolves once all it started is done. */
export type Operation = () => Promise<unknown>;

/** p50 and p99 (nearest rank) and the mean of samples in ms. */
export interface Summary {
  p50: number;
  p99: number;
  mean: number;
}

/** The value at percentile `p` (nearest rank) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

/** Operations per second at concurrency 1 implied by sequential samples in ms. */
export function sequentialRate(samples: readonly number[]): number {
  return samples.length / (samples.reduce((sum, v) => sum + v, 0) / 1000);
}

/** The duration of `op` in ms. */
export async function timeMs(op: Operation): Promise<number> {
  const start = process.hrtime.bigint();
  await op();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Times every operation `rounds` times, taking turns in blocks of `block`
 * calls (a×block, b×block, a×block, …), so that drift and the load of other
 * processes hit each alike. Blocks rather than single turns: a baseline run
 * through child_process forks this process, and the copy-on-write faults
 * that follow a fork land on whatever this process does next; with blocks
 * they touch the first calls of a block (a dozen or more), not every call.
 * `warmup` unmeasured rounds first; `settle` unmeasured calls at the start
 * of every block (see Plan.settle). One sample list per operation.
 */
export async function interleavedSamples(ops: readonly Operation[], rounds: number, warmup = 0, block = 1, settle = 0): Promise<number[][]> {
  const samples = ops.map((): number[] => []);
  for (let round = 0; round < warmup + rounds; round += block) {
    for (const [i, op] of ops.entries()) {
      for (let call = 0; call < settle; call++) await op();
      for (let call = round; call < Math.min(round + block, warmup + rounds); call++) {
        const ms = await timeMs(op);
        if (call >= warmup) samples[i].push(ms);
      }
    }
  }
  return samples;
}

/** Runs `total` calls of `op`, `concurrency` at a time; completed calls per second. */
export async function concurrentRate(op: Operation, concurrency: number, total: number): Promise<number> {
  let started = 0;
  const ms = await timeMs(() =>
    Promise.all(
      Array.from({ length: Math.min(concurrency, total) }, async () => {
        while (started < total) {
          started++;
          await op();
        }
      }),
    ),
  );
  return total / (ms / 1000);
}
