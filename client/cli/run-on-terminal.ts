import { constants } from "node:os";
import type { Command } from "commander";
import type { ExecSpecInit } from "../process-client";
import type { CliContext, CliIo } from "./cli-context";
import { exitStatusOf, failureStatusOf, pumpStdin } from "./run-program";
import type { ProgramRunOptions } from "./run-program";

/**
 * Whether a program runs on a terminal: --tty forces one, --no-tty refuses
 * one, and by default it does when lxnsctl's stdin and stdout are both
 * terminals (as `kubectl exec -it` would be typed there; a forced pty would
 * turn binary output's \n into \r\n in a pipe).
 */
export function wantsTerminal(io: CliIo, flag: boolean | undefined): boolean {
  return flag ?? io.terminal?.interactive ?? false;
}

/**
 * Runs `spec` on a terminal of its own (ExecSpec.tty) and resolves to
 * lxnsctl's exit status, as runProgram does for pipes. lxnsctl's terminal
 * is in raw mode meanwhile (every key goes to the program, ^C included) and
 * restored on every way out: the program's exit, an error from the daemon,
 * a dropped connection, SIGTERM or SIGHUP to lxnsctl (which end the call:
 * the daemon kills the program; status 128+N), and the process's exit. Its
 * size goes with the spec and again on every SIGWINCH. SIGINT sent to
 * lxnsctl goes to the terminal's foreground job.
 */
export async function runOnTerminal(ctx: CliContext, command: Command, spec: ExecSpecInit, options: ProgramRunOptions): Promise<number> {
  const io = ctx.io;
  const local = io.terminal;
  const size = local?.size();
  const ttySpec = { ...spec, tty: true, ...(size ? { terminalSize: size } : {}) } as ExecSpecInit;
  const session = ctx.connect(command).exec(ttySpec, ctx.callOptions(command));
  const restore = local?.enterRaw() ?? (() => {});
  let endedBy: NodeJS.Signals | undefined;
  const unsubscribeSignals = io.onSignal?.((name) => {
    if (name === "SIGINT") {
      session.signal(constants.signals.SIGINT);
      return;
    }
    endedBy ??= name;
    restore();
    session.cancel();
  });
  const unsubscribeResize = local?.onResize(() => {
    const now = local.size();
    if (now) session.resize(now.rows, now.cols);
  });
  const stdin = options.stdin ? io.stdin : undefined;
  let stdinDone = false;
  if (stdin) void pumpStdin(stdin, session).finally(() => (stdinDone = true));
  else session.closeStdin();
  try {
    for await (const chunk of session.output) {
      if (io.writeOutput) await io.writeOutput("stdout", chunk.data);
      else io.stdout(Buffer.from(chunk.data).toString("utf8"));
    }
    const exit = await session.wait();
    return endedBy ? 128 + constants.signals[endedBy] : exitStatusOf(exit);
  } catch (err) {
    if (endedBy) return 128 + constants.signals[endedBy];
    restore(); // the message goes to a terminal in its own mode again
    ctx.report(err);
    return failureStatusOf(err);
  } finally {
    restore();
    unsubscribeSignals?.();
    unsubscribeResize?.();
    if (stdin && !stdinDone) stdin.destroy();
  }
}
