import type { Command } from "commander";
import { PinResponseSchema, UnpinResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import type { CliContext } from "../cli-context";
import { addRefOptions, refFromOptions } from "../ref-options";
import type { RefOptions } from "../ref-options";

/** `lxnsctl pin REF NAME`: bind-mount a namespace under the daemon's state dir (Pin) and print the path. */
export function registerPin(program: Command, ctx: CliContext): void {
  const command = program
    .command("pin")
    .description("pin a namespace on a file that outlives handles and the daemon, as `ip netns add` (prints the path)")
    .argument("<name>", "the pin's name: letters, digits, '.', '_', '-'")
    .addHelpText("after", "\nA network namespace also appears in `ip netns list`.\n\nExamples:\n  lxnsctl pin -t 1234 -n web\n  lxnsctl pin --handle h-abc web");
  addRefOptions(command).action(async (name: string, options: RefOptions, self: Command) => {
    const response = await ctx.connect(self).pin({ ref: refFromOptions(options), name }, ctx.callOptions(self));
    ctx.print(self, PinResponseSchema, response, (r) => `${r.path}\n`);
  });
}

/** `lxnsctl unpin NAME`: undo a pin (Unpin). */
export function registerUnpin(program: Command, ctx: CliContext): void {
  program
    .command("unpin")
    .description("unmount and remove a pin made by `lxnsctl pin`")
    .addHelpText("after", "\nExamples:\n  lxnsctl unpin web")
    .argument("<name>", "the pin's name")
    .action(async (name: string, _options: unknown, self: Command) => {
      const response = await ctx.connect(self).unpin({ name }, ctx.callOptions(self));
      ctx.print(self, UnpinResponseSchema, response, () => "");
    });
}
