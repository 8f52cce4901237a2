// Latency of the small FileService and sysctl calls next to Inspect (a
// cheap unary call of the same daemon), for finding where a ReadFile of
// 1 KiB or a SetSysctl spends its time: `npm run bench:files-latency`.
// Writes nothing. Environment: BENCH_SCALE as the bench; BENCH_NSENTER=1
// adds the nsenter baselines; BENCH_ONLY=read-1k,inspect keeps only those;
// BENCH_DAEMON_B=/other/build/dist/server/main.js runs a second daemon from
// another build, its calls ("…@b") taking turns with this build's, for an
// A/B comparison under the same load. BENCH_CPU=1 also reports each
// call's CPU time in its daemon (utime+stime of the process, dead threads
// included, over runs of one call at a time), which other jobs' load
// disturbs less than latency.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { NamespaceType, createClient } from "../client";
import type { LxnsdClient } from "../client";
import { readAll } from "./cases/files";
import { startDaemonProcess } from "./processes";
import type { ServerProcess } from "./processes";
import { benchScale, scaled } from "./scale";
import { interleavedSamples, summarize } from "./stats";
import type { Operation } from "./stats";
import { startNetUtsTarget } from "./targets";

const execFileAsync = promisify(execFile);

/** The lxnsd calls measured, against `client`, for a target `pid` and a 1 KiB file `small`. */
function lxnsdCalls(client: LxnsdClient, pid: number, small: string): [string, Operation][] {
  const net = { type: NamespaceType.NET, source: { case: "pid" as const, value: pid } };
  const mnt = { type: NamespaceType.MNT, source: { case: "pid" as const, value: pid } };
  return [
    ["inspect", () => client.inspect({ ref: net })],
    ["read-1k", () => readAll({ client, targetPid: pid }, small, 1024)],
    ["read-1k-to-end", () => drain(client.readFile({ mount: mnt, path: small }))],
    ["stat", () => client.stat({ mount: mnt, path: small })],
    ["get-sysctl", () => client.getSysctl({ ref: net, name: "net.ipv4.ip_forward" })],
    ["set-sysctl", () => client.setSysctl({ ref: net, name: "net.ipv4.ip_forward", value: "1" })],
  ];
}

/** utime+stime of process `pid` in ms (its dead threads included). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Daemon CPU ms per call of each subject: `rounds` turns of `calls` calls each, subjects alternating; the median of the rounds. */
async function cpuPerCall(subjects: [string, Operation, number][], rounds: number, calls: number): Promise<Map<string, number>> {
  const perRound = new Map<string, number[]>(subjects.map(([id]) => [id, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [id, op, pid] of subjects) {
      const before = cpuMs(pid);
      for (let i = 0; i < calls; i++) await op();
      perRound.get(id)!.push((cpuMs(pid) - before) / calls);
    }
  }
  return new Map([...perRound].map(([id, values]) => [id, [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]]));
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

async function main(): Promise<void> {
  const scale = benchScale();
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-files-latency-"));
  const small = path.join(dir, "small");
  writeFileSync(small, Buffer.alloc(1024, 0x61));
  const daemons: ServerProcess[] = [];
  const clients: LxnsdClient[] = [];
  const target = await startNetUtsTarget();
  try {
    daemons.push(await startDaemonProcess(dir));
    const other = process.env.BENCH_DAEMON_B;
    if (other) {
      mkdirSync(path.join(dir, "b"));
      daemons.push(await startDaemonProcess(path.join(dir, "b"), other));
    }
    const subjects: [string, Operation][] = [];
    const daemonOf = new Map<string, number>();
    for (const [i, daemon] of daemons.entries()) {
      const client = createClient(daemon.address);
      clients.push(client);
      for (const [id, op] of lxnsdCalls(client, target.pid, small)) {
        const name = i === 0 ? id : `${id}@b`;
        subjects.push([name, op]);
        daemonOf.set(name, daemon.pid);
      }
    }
    if (process.env.BENCH_NSENTER === "1") {
      const pid = String(target.pid);
      subjects.push(["nsenter-cat-1k", () => execFileAsync("nsenter", ["-t", pid, "-m", "cat", small])]);
      subjects.push(["nsenter-sysctl", () => execFileAsync("nsenter", ["-t", pid, "-n", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])]);
    }
    const only = process.env.BENCH_ONLY?.split(",");
    const chosen = only ? subjects.filter(([id]) => only.includes(id.replace(/@b$/, ""))) : subjects;
    const samples = await interleavedSamples(
      chosen.map(([, op]) => op),
      scaled(300, scale, 10),
      scaled(30, scale, 2),
      10,
    );
    const cpu = process.env.BENCH_CPU === "1" ? await cpuPerCall(chosen.filter(([id]) => daemonOf.has(id)).map(([id, op]) => [id, op, daemonOf.get(id)!]), 5, scaled(400, scale, 20)) : new Map<string, number>();
    for (const [i, [id]] of chosen.entries()) {
      const { p50, p99, mean } = summarize(samples[i]);
      const cpuText = cpu.has(id) ? `  daemon CPU ${cpu.get(id)!.toFixed(3)} ms/call` : "";
      process.stdout.write(`${id.padEnd(20)} p50 ${p50.toFixed(3)} ms  mean ${mean.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms  (${samples[i].length} calls)${cpuText}\n`);
    }
  } finally {
    for (const client of clients) client.disconnect();
    await target.stop();
    for (const daemon of daemons) await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
