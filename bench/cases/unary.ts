// Inspect and Open+Close against the floor: an empty grpc-js unary call on the
// same kind of socket, served by a process of its own as the daemon is.
import { NamespaceType } from "../../client";
import { measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import type { BenchContext } from "./context";

export async function unaryCases(ctx: BenchContext): Promise<CaseResult[]> {
  const ref = { type: NamespaceType.NET, source: { case: "pid" as const, value: ctx.targetPid } };
  return measure(
    [
      { id: "floor", label: "floor: empty grpc-js unary call", side: "baseline", unit: "ops/s", op: () => ctx.floor },
      { id: "inspect", label: "Inspect (net of a pid)", side: "lxnsd", unit: "ops/s", op: () => () => ctx.client.inspect({ ref }) },
      {
        id: "open-close",
        label: "Open + Close (net of a pid)",
        side: "lxnsd",
        unit: "ops/s",
        op: () => async () => {
          const { handle } = await ctx.client.open({ ref });
          await ctx.client.close({ handle: handle!.id });
        },
      },
    ],
    { rounds: scaled(1000, ctx.scale, 20), warmup: scaled(100, ctx.scale, 5), calls: (c) => scaled(2000, ctx.scale, c), concurrencies: ctx.concurrencies },
  );
}
