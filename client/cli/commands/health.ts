import type { Command } from "commander";
import type { CliContext } from "../cli-context";

/**
 * `lxnsctl health [SERVICE]`: grpc.health.v1 Check. Prints the status and
 * exits 0 only for SERVING, so it can be a liveness/readiness exec probe.
 */
export function registerHealth(program: Command, ctx: CliContext): void {
  program
    .command("health")
    .description("print the daemon's grpc.health.v1 status (SERVING, NOT_SERVING); exit 0 only when SERVING")
    .argument("[service]", 'a full service name, e.g. lxnsd.v1.ProcessService (default "": the daemon as a whole)', "")
    .addHelpText("after", "\nExamples:\n  lxnsctl health\n  lxnsctl --timeout 2000 health lxnsd.v1.ProcessService")
    .action(async (service: string, _options: unknown, self: Command) => {
      const status = await ctx.connect(self).checkHealth(service, ctx.callOptions(self));
      ctx.io.stdout(ctx.globals(self).json ? `${JSON.stringify({ status }, null, 2)}\n` : `${status}\n`);
      if (status !== "SERVING") ctx.exitCode = 1;
    });
}
