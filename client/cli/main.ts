#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { LXNSD_VERSION } from "../../api/version";
import { CliContext } from "./cli-context";
import type { CliIo } from "./cli-context";
import { registerClose, registerOpen } from "./commands/handles";
import { registerExec } from "./commands/exec";
import { registerHealth } from "./commands/health";
import { registerCurrent, registerInspect } from "./commands/inspect";
import { registerLimit } from "./commands/limit";
import { registerList, registerWatch } from "./commands/list";
import { registerPs } from "./commands/containers";
import { registerMount } from "./commands/mount";
import { registerFile } from "./commands/file";
import { registerSysctl } from "./commands/sysctl";
import { registerPin, registerUnpin } from "./commands/pin";
import { registerPins } from "./commands/pins";
import { registerUnshare } from "./commands/unshare";
import { parseTimeoutMs } from "./parse-values";
import { addPinDirOptions } from "./pin-dirs";
import { markProgramStart } from "./program-argv";
import { processTerminal } from "./process-terminal";
import { processSignals, reraise, streamWriter } from "./run-program";
import { UsageError } from "./usage-error";

export type { CliIo } from "./cli-context";

/** The hint printed after a usage error. */
function usageHint(command: string | undefined): string {
  return `Try 'lxnsctl ${command ? `${command} ` : ""}--help' for more information.`;
}

/**
 * The lxnsctl program with every command registered on `ctx`. Commander's
 * exits become CommanderError throws (exitOverride) so run() decides the
 * status, and its output goes to ctx.io.
 */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("lxnsctl")
    .description("command-line client of lxnsd, the Linux namespace daemon")
    .addOption(new Option("--address <addr>", "daemon address, unix:PATH or HOST:PORT (env: LXNSD_ADDRESS; default: the daemon's default socket)"))
    .addOption(new Option("--token-file <file>", "file holding a bearer token the daemon's policy knows (env: LXNSD_TOKEN holds the token itself)"))
    .addOption(new Option("--tls-ca <file>", "PEM CA that signed the daemon's certificate: connect with TLS (env: LXNSD_TLS_CA)"))
    .addOption(new Option("--tls-cert <file>", "PEM client certificate for mutual TLS (env: LXNSD_TLS_CERT)"))
    .addOption(new Option("--tls-key <file>", "PEM key of --tls-cert (env: LXNSD_TLS_KEY)"))
    .addOption(new Option("--tls-server-name <name>", "name to check the daemon's certificate against (env: LXNSD_TLS_SERVER_NAME)"))
    .addOption(new Option("--json", "print the response as protobuf JSON, one document"))
    .addOption(new Option("--timeout <ms>", "fail a call with DEADLINE_EXCEEDED after this many milliseconds").argParser(parseTimeoutMs))
    .version(`lxnsctl ${LXNSD_VERSION}`, "-V, --version", "print the version and exit")
    .exitOverride()
    .addHelpText("after", `\nGlobal options go before or after the command; they are listed here only.\nEvery command has examples in its help: lxnsctl COMMAND --help.\n\nExamples:\n  lxnsctl ls -t net\n  lxnsctl exec -t 1234 -n ip addr\n  lxnsctl --version`)
    .configureOutput({
      writeOut: (text) => ctx.io.stdout(text),
      writeErr: (text) => ctx.io.stderr(text),
      outputError: (text, write) => write(`lxnsctl: ${text.replace(/^error: /, "")}`),
    });
  addPinDirOptions(program);
  registerInspect(program, ctx);
  registerCurrent(program, ctx);
  registerOpen(program, ctx);
  registerClose(program, ctx);
  registerUnshare(program, ctx);
  registerExec(program, ctx);
  registerLimit(program, ctx);
  registerList(program, ctx);
  registerPs(program, ctx);
  registerWatch(program, ctx);
  registerPin(program, ctx);
  registerUnpin(program, ctx);
  registerPins(program, ctx);
  registerMount(program, ctx);
  registerFile(program, ctx);
  registerSysctl(program, ctx);
  registerHealth(program, ctx);
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
  const program = buildProgram(ctx);
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

if (require.main === module) {
  const writeStdout = streamWriter(process.stdout);
  const writeStderr = streamWriter(process.stderr);
  let killedBy: number | undefined;
  run(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdin: process.stdin,
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
