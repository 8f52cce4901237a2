import * as path from "node:path";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import { collect, parseInteger, parseNonNegativeSeconds } from "./parse-values";
import { DEFAULT_ENV } from "../../api/default-env";
import type { CliIo } from "./cli-context";
import { UsageError } from "./usage-error";

/** The parsed flags that say how to run the program (exec, and unshare with a command). */
export interface ProgramFlags {
  uid?: number;
  gid?: number;
  cwd?: string;
  wdns?: string;
  env?: string[];
  envAll?: boolean;
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
    .addOption(new Option("-w, --cwd <dir>", "working directory (default: lxnsctl's own when the program stays in the daemon's mount namespace, else / of the program's); a relative DIR is taken against that default"))
    .addOption(new Option("-W, --wdns <dir>", "working directory, an absolute path inside the program's mount namespace"))
    .addOption(
      new Option("--env <key=value>", "environment entry added to the defaults (PATH and HOME=/), repeatable; KEY alone copies lxnsctl's value").argParser(
        collect(parseEnvEntry),
      ),
    )
    .addOption(new Option("--env-all", "pass lxnsctl's whole environment (--env entries still added)"))
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

/** Where lxnsctl runs: its environment, and whether its stdin is a terminal. */
export interface LocalSide {
  env: Record<string, string | undefined>;
  stdinIsTerminal?: boolean;
  /** lxnsctl's working directory, when the program stays in the daemon's mount namespace (a relative -w is taken against it). */
  cwd?: string;
}

/** The LocalSide of `io`: its env (process.env by default), and whether its stdin is a terminal. */
export function localSide(io: CliIo): LocalSide {
  return { env: io.env ?? process.env, stdinIsTerminal: (io.stdin as { isTTY?: boolean } | undefined)?.isTTY === true };
}

/**
 * The program's environment: none of lxnsctl's by default (the daemon's
 * PATH and HOME); --env-all all of it; --env entries added, each replacing
 * the entry of its KEY (KEY alone takes lxnsctl's value and is dropped when
 * it has none); TERM when stdin is a terminal, as nsenter passes its own.
 * Empty when nothing is added: the daemon's defaults then.
 */
export function programEnv(flags: ProgramFlags, local: LocalSide): string[] {
  const entries = new Map<string, string>();
  const add = (key: string, value: string | undefined) => value !== undefined && entries.set(key, `${key}=${value}`);
  if (flags.envAll) for (const [key, value] of Object.entries(local.env)) add(key, value);
  for (const entry of flags.env ?? []) {
    const equals = entry.indexOf("=");
    if (equals > 0) entries.set(entry.slice(0, equals), entry);
    else add(entry, local.env[entry]);
  }
  if (local.stdinIsTerminal && !entries.has("TERM")) add("TERM", local.env.TERM);
  if (entries.size === 0) return [];
  if (!flags.envAll) {
    for (const entry of [...DEFAULT_ENV].reverse()) {
      const key = entry.slice(0, entry.indexOf("="));
      if (!entries.has(key)) entries.set(key, entry);
    }
    // The defaults first, as the daemon would give them.
    const defaults = DEFAULT_ENV.map((entry) => entry.slice(0, entry.indexOf("=")));
    return [...defaults.map((key) => entries.get(key)!), ...[...entries].filter(([key]) => !defaults.includes(key)).map(([, entry]) => entry)];
  }
  return [...entries.values()];
}

/**
 * The program's working directory: -W as given (absolute, inside the
 * program's mount namespace); otherwise the base is lxnsctl's own directory
 * where the program stays in the daemon's mount namespace (local.cwd), as
 * nsenter leaves it, else / of the program's mount namespace; -w absolute
 * is taken as given, relative against that base. "" (the daemon's default,
 * /) when the base is / and no -w is given. UsageError, exit 2, for -w with
 * -W and a relative -W.
 */
export function programCwd(flags: ProgramFlags, local: LocalSide): string {
  if (flags.cwd !== undefined && flags.wdns !== undefined) throw new UsageError("-w/--cwd and -W/--wdns: give one working directory");
  if (flags.wdns !== undefined) {
    if (!flags.wdns.startsWith("/")) throw new UsageError(`-W/--wdns ${flags.wdns}: must be an absolute path inside the program's mount namespace`);
    return flags.wdns;
  }
  if (flags.cwd === undefined) return local.cwd ?? "";
  return path.posix.resolve(local.cwd ?? "/", flags.cwd);
}

/**
 * The ExecSpec fields of the program flags and `argv`; without a program,
 * `defaultProgram` (a shell, as nsenter and unshare run one). See programEnv
 * for the environment.
 */
export function programSpec(argv: string[], flags: ProgramFlags, local: LocalSide, defaultProgram = "/bin/sh"): ProgramSpecFields {
  if (argv.length === 0) argv = [defaultProgram];
  if (argv[0] === "") throw new UsageError("the program's name is empty");
  return {
    argv,
    env: programEnv(flags, local),
    cwd: programCwd(flags, local),
    uid: flags.uid,
    gid: flags.gid,
    timeout: flags.timeoutProgram,
  };
}
