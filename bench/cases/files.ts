// FileService and SetSysctl against what callers do today: ReadFile of 1 KiB
// in the target's mount namespace against execFile('nsenter', ['-t', pid,
// '-m', 'cat', path]); SetSysctl of a net sysctl against `nsenter -t pid -n
// sysctl -w`; ReadFile of 256 MiB (at concurrency c, c reads of 256 MiB / c)
// in MB/s against `nsenter -m head -c N path` read from its pipe.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { NamespaceType } from "../../client";
import { forkBlocks, measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { MB } from "./context";
import type { BenchContext } from "./context";
import { streamBytes } from "./exec-stream";

const execFileAsync = promisify(execFile);

/** A temp dir of the bench's own with `small` (1 KiB) and `big` (256 MiB at scale 1); the target shares the bench's mount namespace. */
function files(scale: number): { dir: string; small: string; big: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-files-"));
  const small = path.join(dir, "small");
  const big = path.join(dir, "big");
  writeFileSync(small, Buffer.alloc(1024, 0x61));
  writeFileSync(big, Buffer.alloc(Math.max(streamBytes(1, scale), 1), 0x62));
  return { dir, small, big, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** ReadFile of `length` bytes of `file` in the mount namespace of `pid`; checks the count. */
export async function readAll(ctx: Pick<BenchContext, "client" | "targetPid">, file: string, length: number): Promise<void> {
  let got = 0;
  for await (const { data } of ctx.client.readFile({ mount: { type: NamespaceType.MNT, source: { case: "pid", value: ctx.targetPid } }, path: file, length: BigInt(length) })) got += data.length;
  if (got !== length) throw new Error(`ReadFile of ${file}: ${got} of ${length} bytes`);
}

/** `nsenter -t pid -m head -c bytes file`, its bytes read from its pipe; checks the count and the exit. */
export function nsenterHead(pid: number, file: string, bytes: number): Promise<void> {
  const child = spawn("nsenter", ["-t", String(pid), "-m", "head", "-c", String(bytes), file], { stdio: ["ignore", "pipe", "inherit"] });
  let got = 0;
  child.stdout!.on("data", (chunk: Buffer) => (got += chunk.length));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => (code === 0 && got === bytes ? resolve() : reject(new Error(`nsenter head: ${got} of ${bytes} bytes, ended ${code ?? signal}`))));
  });
}

/** ReadFile 1 KiB and SetSysctl against their nsenter baselines (these fork the bench process: run them early). */
export async function fileUnaryCases(ctx: BenchContext): Promise<CaseResult[]> {
  const made = files(0.0001);
  try {
    const pid = String(ctx.targetPid);
    const netRef = { type: NamespaceType.NET, source: { case: "pid" as const, value: ctx.targetPid } };
    const sysctl = async () => {
      const { value } = await ctx.client.setSysctl({ ref: netRef, name: "net.ipv4.ip_forward", value: "1" });
      if (value !== "1") throw new Error(`SetSysctl answered ${value}`);
    };
    return await measure(
      [
        { id: "read-1k", label: "ReadFile 1 KiB in the target's mount namespace", side: "lxnsd", unit: "ops/s", op: () => () => readAll(ctx, made.small, 1024) },
        { id: "nsenter-cat-1k", label: "execFile nsenter -m cat (1 KiB)", side: "baseline", unit: "ops/s", op: () => () => execFileAsync("nsenter", ["-t", pid, "-m", "cat", made.small]), forks: true },
        { id: "set-sysctl", label: "SetSysctl net.ipv4.ip_forward in the target's netns", side: "lxnsd", unit: "ops/s", op: () => sysctl },
        { id: "nsenter-sysctl", label: "execFile nsenter -n sysctl -w", side: "baseline", unit: "ops/s", op: () => () => execFileAsync("nsenter", ["-t", pid, "-n", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]), forks: true },
      ],
      { rounds: scaled(200, ctx.scale, 10), warmup: scaled(100, ctx.scale, 2), ...forkBlocks(ctx.scale), calls: (c) => scaled(400, ctx.scale, c), concurrencies: ctx.concurrencies },
    );
  } finally {
    made.cleanup();
  }
}

/** ReadFile of 256 MiB (MB/s) against nsenter head read from its pipe. */
export async function fileStreamCases(ctx: BenchContext): Promise<CaseResult[]> {
  const made = files(ctx.scale);
  try {
    const bytes = (c: number) => streamBytes(c, ctx.scale);
    const work = (c: number) => bytes(c) / MB;
    return await measure(
      [
        { id: "read-stream", label: "ReadFile 256 MiB", side: "lxnsd", unit: "MB/s", op: (c) => () => readAll(ctx, made.big, bytes(c)), work },
        { id: "nsenter-cat-stream", label: "spawn nsenter -m head -c 256MiB FILE, stdout pipe", side: "baseline", unit: "MB/s", op: (c) => () => nsenterHead(ctx.targetPid, made.big, bytes(c)), work, forks: true },
      ],
      { rounds: scaled(3, ctx.scale, 3), warmup: 1, calls: (c) => c, concurrencies: ctx.concurrencies },
    );
  } finally {
    made.cleanup();
  }
}

