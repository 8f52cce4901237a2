// Unshare of new net+uts namespaces (held as two handles) and Close of both,
// against `unshare --net --uts true` run with execFile.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { NamespaceType } from "../../client";
import { forkBlocks, measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import type { BenchContext } from "./context";

const execFileAsync = promisify(execFile);

export async function unshareCases(ctx: BenchContext): Promise<CaseResult[]> {
  const unshareAndClose = async () => {
    const { handles } = await ctx.client.unshare({ types: [NamespaceType.NET, NamespaceType.UTS] });
    await Promise.all(handles.map((h) => ctx.client.close({ handle: h.id })));
  };
  const unshare = () => execFileAsync("unshare", ["--net", "--uts", "/usr/bin/true"]);
  return measure(
    [
      { id: "unshare-close", label: "Unshare net+uts + Close", side: "lxnsd", unit: "ops/s", op: () => unshareAndClose },
      { id: "unshare-true", label: "execFile unshare --net --uts true", side: "baseline", unit: "ops/s", op: () => unshare, forks: true },
    ],
    { rounds: scaled(150, ctx.scale, 10), warmup: scaled(100, ctx.scale, 2), ...forkBlocks(ctx.scale), calls: (c) => scaled(300, ctx.scale, c), concurrencies: ctx.concurrencies },
  );
}
