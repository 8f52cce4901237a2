// The daemon's memory while 64 Execs stream at once (16 MiB of stdout each at
// scale 1): VmRSS sampled during, VmHWM since a reset just before, VmRSS after.
// Meant for a fresh daemon (main starts one for it), so that it shows what 64
// Execs cost rather than what earlier cases left on the heap.
import { resetPeak, sampleRss, statusMiB } from "../proc-memory";
import type { MemoryResult } from "../results";
import { scaled } from "../scale";
import { MiB } from "./context";
import type { BenchContext } from "./context";
import { execZeros } from "./stream-ops";

export const MEMORY_STREAMS = 64;

export async function execMemory(ctx: BenchContext): Promise<MemoryResult> {
  const bytesPerStream = scaled(16 * MiB, ctx.scale);
  await execZeros(ctx.client, ctx.targetPid, MiB); // warm-up: the first Exec loads code
  const rssBeforeMiB = statusMiB(ctx.daemonPid, "VmRSS");
  resetPeak(ctx.daemonPid);
  const sampler = sampleRss(ctx.daemonPid);
  const streams = await Promise.allSettled(Array.from({ length: MEMORY_STREAMS }, () => execZeros(ctx.client, ctx.targetPid, bytesPerStream)));
  const rssPeakSampledMiB = sampler.stop();
  const failed = streams.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  const hwmMiB = statusMiB(ctx.daemonPid, "VmHWM");
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { streams: MEMORY_STREAMS, bytesPerStream, rssBeforeMiB, rssPeakSampledMiB, hwmMiB, rssAfterMiB: statusMiB(ctx.daemonPid, "VmRSS") };
}

/** `memory` with the VmRSS and VmHWM (since its start) of the daemon `daemonPid` that served every other case, at their end. */
export function withRunEnd(memory: MemoryResult, daemonPid: number): MemoryResult {
  return { ...memory, endRssMiB: statusMiB(daemonPid, "VmRSS"), endHwmMiB: statusMiB(daemonPid, "VmHWM") };
}
