import { constants } from "node:os";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { Command } from "commander";
import { LxnsdError } from "../lxnsd-error";
import type { ExecSession, ExecSpecInit, ProgramExit } from "../process-client";
import type { CliContext, CliIo } from "./cli-context";
import { runOnTerminal, wantsTerminal } from "./run-on-terminal";

import { streamed } from "./process-io";

export { FORWARDED_SIGNALS, processSignals, reraise, streamWriter } from "./process-io";

/** Exit status when the program was not found (execve ENOENT/ENOTDIR), as env(1) and shells use it. */
export const EXIT_NOT_FOUND = 127;
/** Exit status when the program was found but could not be run (any other execve failure). */
export const EXIT_CANNOT_RUN = 126;

/** How the program's exit becomes lxnsctl's; shared by exec and unshare. */
export const EXIT_STATUS_HELP = `
Exit status:
  the program's exit code; when it was killed by signal N, lxnsctl dies of N too
       (as nsenter does; shells report 128+N), or exits 128+N for SIGPIPE;
  127  the program was not found (execve: ENOENT or ENOTDIR)
  126  the program was found but could not be run (execve: EACCES, ENOEXEC, …)
  1    the daemon refused or lost the call (lxnsctl: CODE: message on stderr)
  2    malformed command line

stdin is forwarded to the program until EOF (--no-stdin: closed at once); its
stdout and stderr are copied to lxnsctl's. When stdin and stdout are both
terminals (or with --tty; never with --no-tty) the program runs on a terminal
of its own, as with kubectl exec -it: lxnsctl's terminal is in raw mode until
it ends (and restored however lxnsctl ends), window size changes follow, and
SIGTERM or SIGHUP to lxnsctl end the call. SIGINT, SIGTERM and SIGHUP sent to
lxnsctl are passed on to the program's process group; if lxnsctl itself dies
(SIGKILL, SIGQUIT) the call drops and the daemon kills the program. The
global --timeout bounds the whole call, the program's run included.
The first argument that is not an option starts the program; -- may mark it.`;

/** The status a shell gives for `exit`: the code, or 128 + the signal that killed the program. */
export function exitStatusOf(exit: ProgramExit): number {
  if (exit.signal !== undefined) return 128 + exit.signal;
  return exit.code ?? 0;
}

/**
 * The status for a program that did not run to an exit: 127 when execve said
 * ENOENT or ENOTDIR (not found), 126 for any other execve failure (EACCES,
 * ENOEXEC, …), 1 for every other failure (joining, creating namespaces, the
 * call itself).
 */
export function failureStatusOf(err: unknown): number {
  if (err instanceof LxnsdError && (err.syscall === "execve" || err.step === "execve")) {
    return err.errno === "ENOENT" || err.errno === "ENOTDIR" ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
  }
  return 1;
}

/** The program-running options shared by exec and unshare. */
export interface ProgramRunOptions {
  /** Forward io.stdin (false: the program's stdin is closed at once). */
  stdin: boolean;
  /** --tty (true), --no-tty (false), or neither: a terminal when lxnsctl's stdin and stdout are terminals (run-on-terminal.ts). */
  tty?: boolean;
}

/**
 * Runs `spec` through client.exec and resolves to lxnsctl's exit status:
 * io.stdin is pumped into the program (closed at its EOF), the program's
 * stdout and stderr go to io's, each chunk written before the next is read
 * (backpressure both ways), SIGINT/SIGTERM/SIGHUP that lxnsctl receives are
 * sent to the program's process group, and the status is exitStatusOf the
 * program's exit or, when the daemon refused or lost it, failureStatusOf the
 * error (reported as `lxnsctl: CODE: message`).
 */
export async function runProgram(ctx: CliContext, command: Command, spec: ExecSpecInit, options: ProgramRunOptions): Promise<number> {
  const io = ctx.io;
  if (wantsTerminal(io, options.tty)) return runOnTerminal(ctx, command, spec, options);
  const session = ctx.connect(command).exec(spec, ctx.callOptions(command));
  const unsubscribe = io.onSignal?.((name) => {
    const number = constants.signals[name];
    if (number !== undefined) session.signal(number);
  });
  const stdin = options.stdin ? io.stdin : undefined;
  let stdinDone = false;
  if (stdin) {
    void pumpStdin(stdin, session).finally(() => (stdinDone = true));
  } else {
    session.closeStdin();
  }
  const write = outputWriter(io);
  try {
    try {
      for await (const chunk of session.output) await write(chunk.stream, chunk.data);
    } catch (err) {
      if (err instanceof LocalOutputError) {
        session.cancel();
        // A reader that went away (`| head`) is a quiet SIGPIPE death, as for any program in a pipeline.
        if (err.code === "EPIPE") return 128 + constants.signals.SIGPIPE;
        io.stderr(`lxnsctl: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    await write.flush();
    const exit = await session.wait();
    if (exit.signal !== undefined) io.programKilledBy?.(exit.signal);
    return exitStatusOf(exit);
  } catch (err) {
    ctx.report(err);
    return failureStatusOf(err);
  } finally {
    unsubscribe?.();
    // A terminal or a pipe that never ends: stop reading it, or lxnsctl would not exit.
    if (stdin && !stdinDone) stdin.destroy();
  }
}

/** Copies `stdin` into the program, a chunk at a time, then closes the program's stdin. Stops quietly when either side goes away. */
export async function pumpStdin(stdin: Readable, session: ExecSession): Promise<void> {
  try {
    for await (const chunk of stdin) {
      const data = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
      streamed(data.byteLength);
      await session.write(data);
    }
    session.closeStdin();
  } catch {
    // stdin destroyed after the program ended, or the call is gone: nothing left to feed.
  }
}

/** A failed write to lxnsctl's own stdout or stderr. */
class LocalOutputError extends Error {
  constructor(
    readonly stream: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(`${stream}: ${message}`);
  }
}

type OutputWriter = ((stream: "stdout" | "stderr", data: Uint8Array) => Promise<void>) & { flush(): Promise<void> };

/** io.writeOutput, or io.stdout/io.stderr as UTF-8 text (multi-byte characters kept whole across chunks). */
function outputWriter(io: CliIo): OutputWriter {
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  const write = async (stream: "stdout" | "stderr", data: Uint8Array) => {
    if (io.writeOutput) {
      try {
        await io.writeOutput(stream, data);
      } catch (err) {
        throw new LocalOutputError(stream, (err as NodeJS.ErrnoException).code, (err as Error).message);
      }
    } else {
      const text = decoders[stream].write(Buffer.from(data));
      if (text) io[stream](text);
    }
  };
  const flush = async () => {
    if (io.writeOutput) return;
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = decoders[stream].end();
      if (rest) io[stream](rest);
    }
  };
  return Object.assign(write, { flush });
}
