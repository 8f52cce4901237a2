// The physical floor of Run: lxnsd-spawn-floor (native/src/bench/spawn_floor.c,
// built with the addon), a C loop that forks, joins the target's net+uts and
// execs /usr/bin/true, with no Node.js or gRPC around it. It times itself.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { CONCURRENCIES } from "../results";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { summarize } from "../stats";
import type { BenchContext } from "./context";

const execFileAsync = promisify(execFile);

/** The executable, next to the addon, seen from bench/cases (ts-jest) or dist/bench/cases. */
export const SPAWN_FLOOR = [path.join(__dirname, "..", ".."), path.join(__dirname, "..", "..", "..")]
  .map((root) => path.join(root, "native", "build", "Release", "lxnsd-spawn-floor"))
  .find((file) => existsSync(file)) ?? "lxnsd-spawn-floor: not built (npm run build:native)";

async function spawnFloor(targetPid: number, rounds: number, concurrency: number): Promise<unknown> {
  const { stdout } = await execFileAsync(SPAWN_FLOOR, [String(targetPid), String(rounds), String(concurrency)], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** The physical floor at every concurrency, with as many spawns as Run's cases make (runCases). */
export async function physicalFloorCase(ctx: BenchContext): Promise<CaseResult> {
  const rounds = scaled(200, ctx.scale, 10);
  const { samplesNs } = (await spawnFloor(ctx.targetPid, rounds, 1)) as { samplesNs: number[] };
  const samplesMs = samplesNs.map((ns) => ns / 1e6);
  const { p50, p99 } = summarize(samplesMs);
  const totalMs = samplesMs.reduce((a, b) => a + b, 0);
  const result: CaseResult = {
    id: "physical-floor",
    label: "physical floor of Run: a C loop forks, joins net+uts, execs true",
    side: "baseline",
    p50Ms: p50,
    p99Ms: p99,
    samples: samplesMs.length,
    unit: "ops/s",
    rate: { "1": (samplesMs.length * 1000) / totalMs },
  };
  for (const concurrency of ctx.concurrencies ?? CONCURRENCIES) {
    if (concurrency === 1) continue;
    const perWorker = Math.ceil(scaled(400, ctx.scale, concurrency) / concurrency);
    const { calls, seconds } = (await spawnFloor(ctx.targetPid, perWorker, concurrency)) as { calls: number; seconds: number };
    result.rate[`${concurrency}`] = calls / seconds;
  }
  return result;
}
