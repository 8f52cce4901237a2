import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { CloseResponseSchema, OpenResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { LxnsdError } from "../../lxnsd-error";
import type { CliContext } from "../cli-context";
import { formatJson } from "../format";
import { parseNonNegativeSeconds } from "../parse-values";
import { addRefOptions, refFromOptions } from "../ref-options";
import type { RefOptions } from "../ref-options";

/** `lxnsctl open`: hold a namespace open as a handle (Open) and print its id. */
export function registerOpen(program: Command, ctx: CliContext): void {
  const command = program
    .command("open")
    .description("hold a namespace open in the daemon and print the handle id")
    .addHelpText("after", "\nExamples:\n  lxnsctl open -t 1234 -n --lease 600\n  lxnsctl open --handle h-abc --owner");
  addRefOptions(command)
    .addOption(new Option("--lease <seconds>", "lease of the handle (default: the daemon's)").argParser(parseNonNegativeSeconds))
    .action(async (options: RefOptions & { lease?: Duration }, self: Command) => {
      const response = await ctx.connect(self).open({ ref: refFromOptions(options), lease: options.lease }, ctx.callOptions(self));
      ctx.print(self, OpenResponseSchema, response, (r) => `${r.handle?.id ?? ""}\n`);
    });
}

/**
 * `lxnsctl close HANDLE...`: release handles (Close). Goes on past a failed
 * one, reports it, and exits 1 at the end.
 */
export function registerClose(program: Command, ctx: CliContext): void {
  program
    .command("close")
    .description("release handles; closing one again is harmless")
    .addHelpText("after", "\nExamples:\n  lxnsctl close h-abc\n  lxnsctl close $(lxnsctl unshare -n | cut -d' ' -f1)")
    .argument("<handle...>", "handle ids from open or unshare")
    .action(async (handles: string[], _options: unknown, self: Command) => {
      const client = ctx.connect(self);
      for (const handle of handles) {
        try {
          await client.close({ handle }, ctx.callOptions(self));
        } catch (err) {
          if (!(err instanceof LxnsdError)) throw err;
          ctx.report(err);
        }
      }
      if (ctx.exitCode === 0 && ctx.globals(self).json) ctx.io.stdout(formatJson(CloseResponseSchema, create(CloseResponseSchema)));
    });
}
