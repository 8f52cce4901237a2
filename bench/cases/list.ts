// A full ListNamespaces through gRPC against `lsns --json` run with execFile,
// with extra processes (2,000 at scale 1) in groups of four, each group in new
// net+uts namespaces of its own (500 groups).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { startCrowd } from "../targets";
import type { BenchContext } from "./context";

const execFileAsync = promisify(execFile);

export async function listCases(ctx: BenchContext): Promise<{ results: CaseResult[]; processes: number; groups: number }> {
  const groups = scaled(500, ctx.scale, 5);
  const crowd = await startCrowd(groups);
  try {
    const list = async () => {
      let rows = 0;
      for await (const response of ctx.client.listNamespaces({})) if (response.summary) rows++;
      if (rows < 2 * groups) throw new Error(`ListNamespaces gave ${rows} rows, fewer than the ${2 * groups} namespaces the bench made`);
    };
    // lsns now and then exits 1 without a word while other processes come and go on
    // this machine: such a call is made again, inside the same timing, and counted.
    let repeatedCalls = 0;
    const lsns = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await execFileAsync("lsns", ["--json"], { maxBuffer: 256 * 1024 * 1024 });
        } catch (err) {
          if (attempt === 3) throw err;
          const { code, signal, stderr } = err as { code?: number; signal?: string; stderr?: string };
          if (repeatedCalls++ === 0) process.stderr.write(`bench: lsns failed (exit ${code ?? signal}: ${stderr?.trim() || "no message"}), repeating it\n`);
        }
      }
    };
    const results = await measure(
      [
        { id: "list", label: `ListNamespaces, all (${crowd.processes} extra processes)`, side: "lxnsd", unit: "ops/s", op: () => list },
        { id: "lsns", label: "execFile lsns --json", side: "baseline", unit: "ops/s", op: () => lsns, forks: true },
      ],
      { rounds: scaled(10, ctx.scale, 3), warmup: 1, calls: (c) => c, concurrencies: ctx.concurrencies },
    );
    if (repeatedCalls > 0) results[1].repeatedCalls = repeatedCalls;
    return { results, processes: crowd.processes, groups };
  } finally {
    await crowd.stop();
  }
}
