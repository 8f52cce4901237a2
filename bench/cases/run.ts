// Run of /usr/bin/true joined to the target's net+uts namespaces, against
// child_process.execFile('nsenter', …) doing the same from the bench process,
// against the floor of Run (the addon's spawn behind an empty grpc-js call),
// and the physical floor (a C loop doing the same spawn: physical-floor.ts).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { forkBlocks, measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { joinNetUts } from "./context";
import { physicalFloorCase } from "./physical-floor";
import type { BenchContext } from "./context";

const execFileAsync = promisify(execFile);

export async function runCases(ctx: BenchContext): Promise<CaseResult[]> {
  const spec = { join: joinNetUts(ctx.targetPid), argv: ["/usr/bin/true"] };
  const run = async () => {
    const result = await ctx.client.run(spec);
    if (result.exit.code !== 0) throw new Error(`Run of true ended ${JSON.stringify(result.exit)}`);
  };
  const nsenter = () => execFileAsync("nsenter", ["-t", String(ctx.targetPid), "-n", "-u", "/usr/bin/true"]);
  // 100 warm-up rounds, as for the unary cases: these are the first calls a fresh daemon serves, and its code should
  // be optimized by the time it is timed, as a running daemon's is.
  const cases = await measure(
    [
      { id: "run-true", label: "Run /usr/bin/true in net+uts", side: "lxnsd", unit: "ops/s", op: () => run },
      { id: "nsenter-true", label: "execFile nsenter -n -u true", side: "baseline", unit: "ops/s", op: () => nsenter, forks: true },
      { id: "floor-run", label: "floor of Run: addon spawn of true in net+uts behind an empty grpc-js call", side: "baseline", unit: "ops/s", op: () => ctx.floorRun },
    ],
    { rounds: scaled(200, ctx.scale, 10), warmup: scaled(100, ctx.scale, 2), ...forkBlocks(ctx.scale), calls: (c) => scaled(400, ctx.scale, c), concurrencies: ctx.concurrencies },
  );
  return [...cases, await physicalFloorCase(ctx)];
}
