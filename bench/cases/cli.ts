// lxnsctl as a program (the bin, dist/client/cli/main.js, as a user runs it):
// `lxnsctl --help` against `node -e 0`, `lxnsctl exec -t PID -n -- true`
// against `node -e 0` plus a Run of the same (the SDK from a warm process),
// and the peak memory of lxnsctl piping 256 MiB through `exec … cat`.
import { execFile, spawn } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { NamespaceType } from "../../client";
import { measure } from "../measure";
import { statusMiB } from "../proc-memory";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { MB, MiB } from "./context";
import type { BenchContext } from "./context";

const execFileAsync = promisify(execFile);

/** The lxnsctl bin, as `npm run build` makes it. */
export const LXNSCTL = path.join(__dirname, "..", "..", "client", "cli", "main.js");

/** Bytes piped through lxnsctl for its memory (256 MiB at scale 1). */
export function pipeBytes(scale: number): number {
  return scaled(256 * MiB, scale, 4 * MiB);
}

/** The three timed rows; `address` is the daemon's. */
export async function cliCases(ctx: BenchContext, address: string): Promise<CaseResult[]> {
  const node = () => execFileAsync(process.execPath, ["-e", "0"]);
  const help = () => execFileAsync(process.execPath, [LXNSCTL, "--help"]);
  const exec = () => execFileAsync(process.execPath, [LXNSCTL, "--address", address, "exec", "-t", String(ctx.targetPid), "-n", "--", "/usr/bin/true"]);
  const spec = { join: [{ type: NamespaceType.NET, source: { case: "pid" as const, value: ctx.targetPid } }], argv: ["/usr/bin/true"] };
  const run = async () => {
    const result = await ctx.client.run(spec);
    if (result.exit.code !== 0) throw new Error(`Run of true ended ${JSON.stringify(result.exit)}`);
  };
  // Process starts: sequential rounds only (rates at concurrency would measure the 2-core machine, not lxnsctl).
  return measure(
    [
      { id: "cli-help", label: "lxnsctl --help (the bin, a process)", side: "lxnsd", unit: "ops/s", op: () => help, forks: true },
      { id: "node-e0", label: "node -e 0", side: "baseline", unit: "ops/s", op: () => node, forks: true },
      { id: "cli-exec-true", label: "lxnsctl exec -t PID -n -- true (the bin, a process)", side: "lxnsd", unit: "ops/s", op: () => exec, forks: true },
      { id: "run-n-true", label: "Run /usr/bin/true in net (the SDK, a warm process)", side: "baseline", unit: "ops/s", op: () => run },
    ],
    { rounds: scaled(40, ctx.scale, 5), warmup: scaled(5, ctx.scale, 1), block: 2, calls: () => 0, concurrencies: [1] },
  );
}

/**
 * `lxnsctl exec -t PID -n -- cat` with `pipeBytes` of zeros on its stdin and
 * its stdout read to the end: lxnsctl's peak RSS (VmHWM, read every 10 ms
 * while it runs, the last reading just before it exits being at least as
 * high as every earlier one) and the throughput, as one row with p50Ms the
 * whole run.
 */
export async function cliPipeCase(ctx: BenchContext, address: string): Promise<CaseResult> {
  const bytes = pipeBytes(ctx.scale);
  const started = performance.now();
  const child = spawn(process.execPath, [LXNSCTL, "--address", address, "exec", "-t", String(ctx.targetPid), "-n", "--", "cat"], { stdio: ["pipe", "pipe", "inherit"] });
  let peakMiB = 0;
  const timer = setInterval(() => {
    try {
      peakMiB = Math.max(peakMiB, statusMiB(child.pid!, "VmHWM"));
    } catch {
      // exited
    }
  }, 10);
  let received = 0;
  child.stdout!.on("data", (chunk: Buffer) => {
    received += chunk.length;
    try {
      peakMiB = Math.max(peakMiB, statusMiB(child.pid!, "VmHWM"));
    } catch {
      // exited
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const zeros = Buffer.alloc(MiB);
  for (let sent = 0; sent < bytes; sent += zeros.length) {
    if (!child.stdin!.write(zeros)) await new Promise((resolve) => child.stdin!.once("drain", resolve));
  }
  child.stdin!.end();
  const code = await exited;
  clearInterval(timer);
  const ms = performance.now() - started;
  if (code !== 0 || received !== bytes) throw new Error(`lxnsctl exec cat: exit ${code}, ${received} of ${bytes} bytes back`);
  return {
    id: "cli-pipe",
    label: `lxnsctl exec -t PID -n -- cat, ${bytes / MiB} MiB in and out`,
    side: "lxnsd",
    p50Ms: ms,
    p99Ms: ms,
    samples: 1,
    unit: "MB/s",
    rate: { "1": bytes / MB / (ms / 1000) },
    peakRssMiB: peakMiB,
  };
}
