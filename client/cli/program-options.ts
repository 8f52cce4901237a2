import type { Duration } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import { collect, parseInteger, parseNonNegativeSeconds } from "./parse-values";
import { UsageError } from "./usage-error";

/** The parsed flags that say how to run the program (exec, and unshare with a command). */
export interface ProgramFlags {
  uid?: number;
  gid?: number;
  cwd?: string;
  env?: string[];
  timeoutProgram?: Duration;
  /** false under --no-stdin. */
  stdin?: boolean;
  /** true under --tty, false under --no-tty; unset: a terminal when stdin and stdout both are. */
  tty?: boolean;
}

/** A uid or gid: 0 to 4294967294 ((uid_t)-1 is not an id). */
export function parseId(text: string): number {
  return parseInteger(text, 0, 0xfffffffe);
}

/** An --env entry: KEY=VALUE, or KEY alone (its value in lxnsctl's environment). */
export function parseEnvEntry(text: string): string {
  if (text === "" || text.startsWith("=") || text.includes("\0")) throw new InvalidArgumentError("Expected KEY=VALUE or KEY.");
  return text;
}

/**
 * Adds the program flags, spelled as nsenter(1) and unshare(1) spell
 * --setuid/--setgid/--wd where they have them.
 */
export function addProgramOptions(command: Command): Command {
  return command
    .addOption(new Option("-S, --uid <uid>", "run the program as this uid (setuid after joining and creating namespaces)").argParser(parseId))
    .addOption(new Option("-G, --gid <gid>", "run the program as this gid (supplementary groups are dropped)").argParser(parseId))
    .addOption(new Option("-w, --cwd <dir>", "working directory, absolute, inside the program's mount namespace (default: /)"))
    .addOption(
      new Option("--env <key=value>", "environment entry, repeatable; KEY alone copies lxnsctl's value (default: the daemon's minimal PATH and HOME)").argParser(
        collect(parseEnvEntry),
      ),
    )
    .addOption(new Option("--timeout-program <seconds>", "the daemon kills the program after this long (exit status 1, DEADLINE_EXCEEDED)").argParser(parseNonNegativeSeconds))
    .addOption(new Option("--no-stdin", "do not forward stdin: the program's stdin is closed at once"))
    .addOption(new Option("--tty", "run the program on a terminal of its own (default when stdin and stdout are both terminals)"))
    .addOption(new Option("--no-tty", "never give the program a terminal: pipes, even when stdin and stdout are terminals"));
}

/** The ExecSpec fields that say what to run and how (the rest say where). */
export interface ProgramSpecFields {
  argv: string[];
  env: string[];
  cwd: string;
  uid?: number;
  gid?: number;
  timeout?: Duration;
}

/**
 * The ExecSpec fields of the program flags and `argv`. KEY-only --env entries
 * take their value from `env` and are dropped when it has none. Throws
 * UsageError without a program.
 */
export function programSpec(argv: string[], flags: ProgramFlags, env: Record<string, string | undefined>): ProgramSpecFields {
  if (argv.length === 0 || argv[0] === "") throw new UsageError("a program to run is required after --");
  const entries: string[] = [];
  for (const entry of flags.env ?? []) {
    if (entry.includes("=")) entries.push(entry);
    else if (env[entry] !== undefined) entries.push(`${entry}=${env[entry]}`);
  }
  return {
    argv,
    env: entries,
    cwd: flags.cwd ?? "",
    uid: flags.uid,
    gid: flags.gid,
    timeout: flags.timeoutProgram,
  };
}
