// Exec streaming a large stdout (256 MiB at scale 1), in MB/s, against piping
// the same through nsenter started with child_process.spawn. At concurrency c,
// c streams run at once, each carrying 256 MiB / c.
import { measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { MB, MiB } from "./context";
import type { BenchContext } from "./context";
import { execZeros, nsenterZeros } from "./stream-ops";

/** Bytes one stream carries when `concurrency` run at once. */
export function streamBytes(concurrency: number, scale: number): number {
  return Math.round(scaled(256 * MiB, scale) / concurrency);
}

export async function execStreamCases(ctx: BenchContext): Promise<CaseResult[]> {
  const bytes = (c: number) => streamBytes(c, ctx.scale);
  const work = (c: number) => bytes(c) / MB;
  return measure(
    [
      { id: "exec-stream", label: "Exec head -c 256MiB /dev/zero, stdout", side: "lxnsd", unit: "MB/s", op: (c) => () => execZeros(ctx.client, ctx.targetPid, bytes(c)), work },
      { id: "nsenter-stream", label: "spawn nsenter … head, stdout pipe", side: "baseline", unit: "MB/s", op: (c) => () => nsenterZeros(ctx.targetPid, bytes(c)), work, forks: true },
    ],
    { rounds: scaled(3, ctx.scale, 3), warmup: 1, calls: (c) => c, concurrencies: ctx.concurrencies },
  );
}
