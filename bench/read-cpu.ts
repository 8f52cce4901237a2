// ReadFile 256 MiB against its floor (grpc-js streaming alone, stream-floor.ts)
// and `nsenter -m head` read from its pipe, in alternating rounds (A B C A B C
// …) in one process, with the CPU time (utime+stime, /proc/PID/stat) each side
// spends per MiB: figures that a loaded, shared machine disturbs less than
// wall-clock MB/s. `npm run bench:read-cpu` (BENCH_ROUNDS, default 5; BENCH_SCALE as the bench).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../client";
import { nsenterHead, readAll } from "./cases/files";
import { streamBytes } from "./cases/exec-stream";
import { cpuSeconds, median, ownCpuSeconds } from "./cpu-time";
import { startDaemonProcess } from "./processes";
import { benchScale } from "./scale";
import { streamFloor } from "./stream-floor";
import { startNetUtsTarget } from "./targets";

const MiB = 1024 * 1024;

interface Sample {
  mbps: number;
  serverCpuPerMiB: number;
  clientCpuPerMiB: number;
}

async function sample(serverPid: number | undefined, bytes: number, run: () => Promise<unknown>): Promise<Sample> {
  const server0 = serverPid === undefined ? 0 : cpuSeconds(serverPid);
  const client0 = ownCpuSeconds();
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const mib = bytes / MiB;
  return {
    mbps: bytes / 1e6 / seconds,
    serverCpuPerMiB: serverPid === undefined ? Number.NaN : ((cpuSeconds(serverPid) - server0) * 1000) / mib,
    clientCpuPerMiB: ((ownCpuSeconds() - client0) * 1000) / mib,
  };
}

async function main(): Promise<void> {
  const scale = benchScale();
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const bytes = streamBytes(1, scale);
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-read-cpu-"));
  const big = path.join(dir, "big");
  writeFileSync(big, Buffer.alloc(bytes, 0x62));
  const daemon = await startDaemonProcess(dir);
  const target = await startNetUtsTarget();
  const client = createClient(daemon.address);
  const floor = await streamFloor(path.join(dir, "floor.sock"));
  const readFile = () => readAll({ client, targetPid: target.pid }, big, bytes);
  const cases: Record<string, { pid?: number; run: () => Promise<unknown>; samples: Sample[] }> = {
    readFile: { pid: daemon.pid, run: readFile, samples: [] },
    floor: { pid: floor.pid, run: () => floor.read(bytes), samples: [] },
    nsenter: { run: () => nsenterHead(target.pid, big, bytes), samples: [] },
  };
  try {
    // One warm-up of each, not counted (shown: the daemon's first read runs its code cold).
    for (const [name, c] of Object.entries(cases)) {
      const s = await sample(c.pid, bytes, c.run);
      process.stdout.write(`warm-up ${name}: ${s.mbps.toFixed(0)} MB/s, server ${s.serverCpuPerMiB.toFixed(2)} ms/MiB, client ${s.clientCpuPerMiB.toFixed(2)} ms/MiB\n`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, c] of Object.entries(cases)) {
        const s = await sample(c.pid, bytes, c.run);
        c.samples.push(s);
        process.stdout.write(`round ${round} ${name}: ${s.mbps.toFixed(0)} MB/s, server ${s.serverCpuPerMiB.toFixed(2)} ms/MiB, client ${s.clientCpuPerMiB.toFixed(2)} ms/MiB\n`);
      }
    }
    const med = (name: string, key: keyof Sample) => median(cases[name].samples.map((s) => s[key]));
    for (const name of Object.keys(cases)) {
      process.stdout.write(`${name}: median ${med(name, "mbps").toFixed(0)} MB/s, server ${med(name, "serverCpuPerMiB").toFixed(2)} ms/MiB, client ${med(name, "clientCpuPerMiB").toFixed(2)} ms/MiB\n`);
    }
    const ratios = (a: string, b: string) => median(cases[a].samples.map((s, i) => s.mbps / cases[b].samples[i].mbps));
    process.stdout.write(`median of per-round ratios: ReadFile/nsenter ${ratios("readFile", "nsenter").toFixed(3)}, floor/nsenter ${ratios("floor", "nsenter").toFixed(3)}, ReadFile/floor ${ratios("readFile", "floor").toFixed(3)}\n`);
  } finally {
    floor.stop();
    client.disconnect();
    await target.stop();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
