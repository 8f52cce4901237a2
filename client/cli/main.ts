#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { LXNSD_VERSION } from "../../api/version";
import { CliContext } from "./cli-context";
import type { CliIo } from "./cli-context";
import { COMMANDS, addCommandStubs, commandNamed } from "./lazy-commands";
import { addPinDirOptions } from "./pin-dirs";
import { markProgramStart } from "./program-argv";
import { processTerminal } from "./process-terminal";
import { enableMemoryNudges, processSignals, reraise, streamWriter } from "./process-io";
import { UsageError } from "./usage-error";

export type { CliIo } from "./cli-context";

/** The hint printed after a usage error. */
function usageHint(command: string | undefined): string {
  return `Try 'lxnsctl ${command ? `${command} ` : ""}--help' for more information.`;
}

/**
 * The lxnsctl program on `ctx`. With `argv`, only the command it names is
 * loaded and registered (lazy-commands.ts), and without one, stubs list the
 * commands for the help; without `argv`, every command. Commander's exits
 * become CommanderError throws (exitOverride) so run() decides the status,
 * and its output goes to ctx.io.
 */
export function buildProgram(ctx: CliContext, argv?: readonly string[]): Command {
  const program = new Command("lxnsctl")
    .description("command-line client of lxnsd, the Linux namespace daemon")
    .addOption(new Option("--address <addr>", "daemon address, unix:PATH or HOST:PORT (env: LXNSD_ADDRESS; default: the daemon's default socket)"))
    .addOption(new Option("--token-file <file>", "file holding a bearer token the daemon's policy knows (env: LXNSD_TOKEN holds the token itself)"))
    .addOption(new Option("--tls-ca <file>", "PEM CA that signed the daemon's certificate: connect with TLS (env: LXNSD_TLS_CA)"))
    .addOption(new Option("--tls-cert <file>", "PEM client certificate for mutual TLS (env: LXNSD_TLS_CERT)"))
    .addOption(new Option("--tls-key <file>", "PEM key of --tls-cert (env: LXNSD_TLS_KEY)"))
    .addOption(new Option("--tls-server-name <name>", "name to check the daemon's certificate against (env: LXNSD_TLS_SERVER_NAME)"))
    .addOption(new Option("--json", "print the response as protobuf JSON, one document"))
    .addOption(new Option("--timeout <ms>", "fail a call with DEADLINE_EXCEEDED after this many milliseconds").argParser((text) => (require("./parse-values") as typeof import("./parse-values")).parseTimeoutMs(text)))
    .version(`lxnsctl ${LXNSD_VERSION}`, "-V, --version", "print the version and exit")
    .exitOverride()
    .addHelpText("after", `\nGlobal options go before or after the command; they are listed here only.\nEvery command has examples in its help: lxnsctl COMMAND --help.\n\nExamples:\n  lxnsctl ls -t net\n  lxnsctl exec -t 1234 -n ip addr\n  lxnsctl --version`)
    .configureOutput({
      writeOut: (text) => ctx.io.stdout(text),
      writeErr: (text) => ctx.io.stderr(text),
      outputError: (text, write) => write(`lxnsctl: ${text.replace(/^error: /, "")}`),
    });
  addPinDirOptions(program);
  const named = argv === undefined ? undefined : commandNamed(program, argv);
  if (argv === undefined) for (const command of COMMANDS) command.load()(program, ctx);
  else if (named !== undefined) named.load()(program, ctx);
  else addCommandStubs(program);
  program.showHelpAfterError(usageHint(undefined));
  for (const command of program.commands) command.showHelpAfterError(usageHint(command.name()));
  return program;
}

/**
 * Runs lxnsctl on `argv` (the arguments after the program name) and resolves
 * to its exit status: 0 on success, 1 when a call failed (reported as
 * `lxnsctl: CODE_NAME: message` on stderr, never with a stack), 2 for a
 * malformed command line; exec and `unshare -- CMD` exit with the program's
 * status (run-program.ts).
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx, argv);
  let current: string | undefined;
  program.hook("preAction", (_program, actionCommand) => {
    current = actionCommand.name();
  });
  try {
    await program.parseAsync(markProgramStart(program, argv), { from: "user" });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      io.stderr(`lxnsctl: ${err.message}\n${usageHint(current)}\n`);
      return 2;
    }
    ctx.report(err);
    return 1;
  } finally {
    ctx.dispose();
  }
}

/**
 * lxnsctl as a program: run() on process.argv with the process's stdio,
 * signals and terminal; sets the exit status, and re-raises the signal that
 * killed the program. The bin (client/cli/build-bundle.js) calls this.
 */
export function runAsBin(): void {
  enableMemoryNudges();
  const writeStdout = streamWriter(process.stdout);
  const writeStderr = streamWriter(process.stderr);
  let killedBy: number | undefined;
  run(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // Made on first use: process.stdin builds a stream (a socket for a pipe), which --help never needs.
    get stdin() {
      return process.stdin;
    },
    writeOutput: (stream, data) => (stream === "stdout" ? writeStdout : writeStderr)(data),
    onSignal: processSignals,
    terminal: processTerminal(),
    programKilledBy: (signal) => (killedBy = signal),
    ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}),
  }).then((code) => {
    process.exitCode = code;
    if (killedBy !== undefined) reraise(killedBy);
  });
}

if (require.main === module) runAsBin();
