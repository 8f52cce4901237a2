// Run /usr/bin/true in a target's net+uts, from the daemon and from the floor
// server (floor.ts: the addon's spawn behind an empty grpc-js call), in
// alternating rounds of BENCH_RUNS calls at concurrency 8, with the CPU time
// (utime+stime, /proc/PID/stat) each server spends per Run: a figure that a
// loaded, shared machine disturbs less than wall-clock rates.
// `npm run bench:run-cpu` (BENCH_ROUNDS, default 5; BENCH_RUNS, default 400).
// BENCH_BASE_DAEMON_MAIN=PATH (another build's dist/server/main.js) adds that
// daemon as a third case, "base", in the same rounds: an A/B of two builds.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../client";
import { joinNetUts } from "./cases/context";
import { floorClient } from "./floor";
import { startDaemonProcess, startFloorProcess } from "./processes";
import { cpuTimes, median } from "./cpu-time";
import { concurrentRate } from "./stats";
import type { Operation } from "./stats";
import { startNetUtsTarget } from "./targets";

const CONCURRENCY = 8;

interface Sample {
  rate: number;
  /** The server's CPU ms per Run: user + system, and each. */
  cpuMsPerRun: number;
  userMsPerRun: number;
  systemMsPerRun: number;
}

async function sample(pid: number, runs: number, op: Operation): Promise<Sample> {
  const before = cpuTimes(pid);
  const rate = await concurrentRate(op, CONCURRENCY, runs);
  const after = cpuTimes(pid);
  const perRun = (seconds: number) => (seconds * 1000) / runs;
  const user = perRun(after.user - before.user);
  const system = perRun(after.system - before.system);
  return { rate, cpuMsPerRun: user + system, userMsPerRun: user, systemMsPerRun: system };
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const runs = Number(process.env.BENCH_RUNS ?? 400);
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-run-cpu-"));
  const daemon = await startDaemonProcess(dir);
  const baseMain = process.env.BENCH_BASE_DAEMON_MAIN;
  // The base daemon's socket and state in a directory of its own.
  if (baseMain) mkdirSync(path.join(dir, "base"));
  const base = baseMain ? await startDaemonProcess(path.join(dir, "base"), path.resolve(baseMain)) : undefined;
  const floor = await startFloorProcess(dir);
  const target = await startNetUtsTarget();
  const client = createClient(daemon.address);
  const floorCalls = floorClient(floor.address);
  const spec = { join: joinNetUts(target.pid), argv: ["/usr/bin/true"] };
  const baseClient = base ? createClient(base.address) : undefined;
  const runOn = (c: typeof client) => async () => {
    const result = await c.run(spec);
    if (result.exit.code !== 0) throw new Error(`Run of true ended ${JSON.stringify(result.exit)}`);
  };
  const cases: Record<string, { pid: number; op: Operation; samples: Sample[] }> = {
    run: { pid: daemon.pid, op: runOn(client), samples: [] },
    ...(base && baseClient ? { base: { pid: base.pid, op: runOn(baseClient), samples: [] } } : {}),
    floor: { pid: floor.pid, op: floorCalls.spawnTrue(target.pid), samples: [] },
  };
  const ms = (value: number) => value.toFixed(3);
  const line = (what: string, s: Sample) =>
    `${what}: ${s.rate.toFixed(0)} ops/s, server ${ms(s.cpuMsPerRun)} ms CPU/Run (user ${ms(s.userMsPerRun)}, system ${ms(s.systemMsPerRun)})\n`;
  try {
    process.stdout.write(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
    // A warm-up round of each, not counted: the daemon's first calls run its code cold.
    for (const [name, c] of Object.entries(cases)) process.stdout.write(line(`warm-up ${name}`, await sample(c.pid, runs, c.op)));
    for (let round = 0; round < rounds; round++) {
      for (const [name, c] of Object.entries(cases)) {
        const s = await sample(c.pid, runs, c.op);
        c.samples.push(s);
        process.stdout.write(line(`round ${round} ${name}`, s));
      }
    }
    const med = (name: string, key: keyof Sample) => median(cases[name].samples.map((s) => s[key]));
    for (const name of Object.keys(cases)) {
      process.stdout.write(
        `${name}: median ${med(name, "rate").toFixed(0)} ops/s, server ${ms(med(name, "cpuMsPerRun"))} ms CPU/Run (user ${ms(med(name, "userMsPerRun"))}, system ${ms(med(name, "systemMsPerRun"))})\n`,
      );
    }
    const ratio = (key: keyof Sample) => median(cases.run.samples.map((s, i) => s[key] / cases.floor.samples[i][key]));
    process.stdout.write(`median of per-round ratios Run/floor: CPU per Run ${ratio("cpuMsPerRun").toFixed(3)}, user ${ratio("userMsPerRun").toFixed(3)}, rate ${ratio("rate").toFixed(3)}\n`);
    if (cases.base) {
      const ab = (key: keyof Sample) => median(cases.run.samples.map((s, i) => s[key] / cases.base.samples[i][key]));
      process.stdout.write(`median of per-round ratios Run/base: CPU per Run ${ab("cpuMsPerRun").toFixed(3)}, user ${ab("userMsPerRun").toFixed(3)}, system ${ab("systemMsPerRun").toFixed(3)}\n`);
    }
    process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  } finally {
    floorCalls.close();
    client.disconnect();
    baseClient?.disconnect();
    await target.stop();
    await floor.stop();
    await base?.stop();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
