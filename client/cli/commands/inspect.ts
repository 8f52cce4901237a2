import type { Command } from "commander";
import { GetCurrentNamespacesResponseSchema, InspectResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import type { CliContext } from "../cli-context";
import { formatInfo, formatInfoTable } from "../format";
import { addRefOptions, refFromOptions } from "../ref-options";
import type { RefOptions } from "../ref-options";

/** `lxnsctl inspect`: what the kernel says about one namespace (Inspect). */
export function registerInspect(program: Command, ctx: CliContext): void {
  const command = program
    .command("inspect")
    .description("show one namespace: its id, device, owner and parent")
    .addHelpText("after", "\nExamples:\n  lxnsctl inspect -t 1234 -n\n  lxnsctl inspect --self --pid --parent\n  lxnsctl inspect --handle h-abc --json");
  addRefOptions(command).action(async (options: RefOptions, self: Command) => {
    const response = await ctx.connect(self).inspect({ ref: refFromOptions(options) }, ctx.callOptions(self));
    ctx.print(self, InspectResponseSchema, response, (r) => formatInfo(r.info));
  });
}

/** `lxnsctl current`: the daemon's own namespaces (GetCurrentNamespaces), as an lsns-like table. */
export function registerCurrent(program: Command, ctx: CliContext): void {
  program
    .command("current")
    .description("list the daemon's own namespace of every type")
    .addHelpText("after", "\nExamples:\n  lxnsctl current\n  lxnsctl --json current")
    .action(async (_options: unknown, self: Command) => {
      const response = await ctx.connect(self).getCurrentNamespaces({}, ctx.callOptions(self));
      ctx.print(self, GetCurrentNamespacesResponseSchema, response, (r) => formatInfoTable(r.namespaces));
    });
}
