// The FileService cases alone (bench/cases/files.ts) and their checks, for
// measuring a change to the files path without the whole bench:
// `npm run bench:files` (BENCH_SCALE as the bench). Writes nothing. Also
// the floor of ReadFile 256 MiB: grpc-js streaming alone (stream-floor.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../client";
import { fileStreamCases, fileUnaryCases } from "./cases/files";
import { startDaemonProcess } from "./processes";
import { measure } from "./measure";
import { streamBytes } from "./cases/exec-stream";
import { MB } from "./cases/context";
import { streamFloor } from "./stream-floor";
import { benchScale } from "./scale";
import { startNetUtsTarget } from "./targets";

async function main(): Promise<void> {
  const scale = benchScale();
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-files-only-"));
  const daemon = await startDaemonProcess(dir);
  const target = await startNetUtsTarget();
  const client = createClient(daemon.address);
  try {
    const none = async () => {};
    const ctx = { client, floor: none, floorRun: none, daemonPid: daemon.pid, targetPid: target.pid, scale, concurrencies: [1] as const };
    // The unary cases first, as in the whole bench: their nsenter baselines fork this process, which the 256 MiB streams swell.
    const unary = await fileUnaryCases(ctx);
    const floor = await streamFloor(path.join(dir, "floor.sock"));
    const floorCases = await measure(
      [{ id: "stream-floor", label: "grpc-js streaming 256 MiB of preallocated 64 KiB messages", side: "baseline", unit: "MB/s", op: (c) => () => floor.read(streamBytes(c, scale)), work: (c) => streamBytes(c, scale) / MB }],
      { rounds: 3, warmup: 1, calls: (c) => c, concurrencies: [1] },
    ).finally(() => floor.stop());
    const cases = [...unary, ...(await fileStreamCases(ctx)), ...floorCases];
    const by = (id: string) => cases.find((c) => c.id === id)!;
    for (const c of cases) process.stdout.write(`${c.id}: p50 ${c.p50Ms.toFixed(3)} ms, rate c1 ${c.rate["1"]?.toFixed(1)} ${c.unit}\n`);
    process.stdout.write(`read-1k p50 ÷ nsenter cat p50: ${(by("read-1k").p50Ms / by("nsenter-cat-1k").p50Ms).toFixed(3)} (≤ 0.15)\n`);
    process.stdout.write(`SetSysctl p50 ÷ nsenter sysctl p50: ${(by("set-sysctl").p50Ms / by("nsenter-sysctl").p50Ms).toFixed(3)} (≤ 0.15)\n`);
    const c1 = (id: string) => by(id).rate["1"] ?? Number.NaN;
    process.stdout.write(`grpc-js floor ÷ nsenter head, c1: ${(c1("stream-floor") / c1("nsenter-cat-stream")).toFixed(3)}; ReadFile ÷ floor: ${(c1("read-stream") / c1("stream-floor")).toFixed(3)}\n`);
    process.stdout.write(`ReadFile 256 MiB ÷ nsenter head, c1: ${(c1("read-stream") / c1("nsenter-cat-stream")).toFixed(3)} (≥ 0.8)\n`);
  } finally {
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
