import type { Command, Option } from "commander";
import { UsageError } from "./usage-error";

/** The commands whose operands are a program and its arguments. */
const PROGRAM_COMMANDS = new Set(["exec", "unshare"]);

/** Clusters that read as docker's "interactive terminal", which lxnsctl spells differently. */
const TERMINAL_CLUSTERS = new Set(["-it", "-ti"]);

/** nsenter's per-type `--net=FILE` (`--user=FILE`, …, `--uts=FILE`), which exec takes as `--ns-file TYPE=FILE`. */
const NS_FILE_TOKEN = /^--(user|cgroup|ipc|net|mount|pid|time|uts)=(.*)$/s;

const takesValue = (option: Option | undefined): boolean => option !== undefined && (option.required || option.optional);

function findOption(commands: readonly Command[], test: (option: Option) => boolean): Option | undefined {
  for (const command of commands) {
    const found = command.options.find(test);
    if (found) return found;
  }
  return undefined;
}

/**
 * How many tokens the option at argv[index] spans (1, or 2 when its value
 * is the next token), looked up in `commands`' options. Unknown options
 * span 1: commander reports them.
 */
function optionSpan(commands: readonly Command[], argv: readonly string[], index: number): number {
  const token = argv[index];
  if (token.startsWith("--")) {
    if (token.includes("=")) return 1;
    const option = findOption(commands, (o) => o.long === token);
    return takesValue(option) && index + 1 < argv.length ? 2 : 1;
  }
  // A cluster of short options: the first one that takes a value takes the rest of the token, or the next token.
  for (let at = 1; at < token.length; at++) {
    const option = findOption(commands, (o) => o.short === `-${token[at]}`);
    if (takesValue(option)) return at === token.length - 1 && index + 1 < argv.length ? 2 : 1;
  }
  return 1;
}

/**
 * As nsenter and unshare read their command lines: for `exec` and
 * `unshare`, the first argument that is not an option (or an option's value)
 * starts the program, so `lxnsctl exec -t 1 -n sh -c 'x'` runs `sh -c x`
 * (commander would take `-c` for one of lxnsctl's options). Returns argv
 * with `--` put before that argument; `--` given already is left alone.
 * Throws UsageError for `-it`/`-ti`, which would quietly read as
 * `--ipc --target …`. For exec, nsenter's `--net=FILE` and the like become
 * `--ns-file net=FILE` (commander cannot give one flag both a boolean and
 * an `=`-only value: `-n ip addr` must not read `ip` as a file).
 */
export function markProgramStart(program: Command, original: readonly string[]): string[] {
  const argv = [...original];
  let index = 0;
  while (index < argv.length && argv[index].startsWith("-") && argv[index] !== "--") index += optionSpan([program], argv, index);
  const command = program.commands.find((c) => c.name() === argv[index] || c.aliases().includes(argv[index]));
  if (!command || !PROGRAM_COMMANDS.has(command.name())) return [...argv];
  for (index++; index < argv.length; ) {
    const token = argv[index];
    if (token === "--") return [...argv];
    if (TERMINAL_CLUSTERS.has(token)) {
      throw new UsageError(`${token}: there is no -i -t for a terminal here (-i is --ipc, -t is --target); use --tty for a terminal, and spell -i -t PID apart for the ipc namespace`);
    }
    if (!token.startsWith("-") || token === "-") return [...argv.slice(0, index), "--", ...argv.slice(index)];
    const nsFile = command.name() === "exec" ? NS_FILE_TOKEN.exec(token) : null;
    if (nsFile) {
      argv.splice(index, 1, "--ns-file", `${nsFile[1]}=${nsFile[2]}`);
      index += 2;
      continue;
    }
    index += optionSpan([command, program], argv, index);
  }
  return [...argv];
}
