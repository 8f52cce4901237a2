// The FileService cases alone (bench/cases/files.ts) and their checks, for
// measuring a change to the files path without the whole bench:
// `npm run bench:files` (BENCH_SCALE as the bench). Writes nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../client";
import { fileStreamCases, fileUnaryCases } from "./cases/files";
import { startDaemonProcess } from "./processes";
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
    const cases = [...(await fileUnaryCases(ctx)), ...(await fileStreamCases(ctx))];
    const by = (id: string) => cases.find((c) => c.id === id)!;
    for (const c of cases) process.stdout.write(`${c.id}: p50 ${c.p50Ms.toFixed(3)} ms, rate c1 ${c.rate["1"]?.toFixed(1)} ${c.unit}\n`);
    process.stdout.write(`read-1k p50 ÷ nsenter cat p50: ${(by("read-1k").p50Ms / by("nsenter-cat-1k").p50Ms).toFixed(3)} (≤ 0.15)\n`);
    const c1 = (id: string) => by(id).rate["1"] ?? Number.NaN;
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
