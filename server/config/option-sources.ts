import { readFileSync } from "node:fs";
import { Command } from "commander";
import type { Option } from "commander";
import { parse as parseYaml } from "yaml";

/**
 * Every lxnsd option comes from one commander declaration and can be set
 * three ways under the same name: the flag `--max-handles`, the environment
 * variable `LXNSD_MAX_HANDLES` and the key `max-handles` of the `--config`
 * file (JSON or YAML). Precedence: flag > env > file > default. An option
 * declared on a {@link ConfigurableCommand} gets its env var and file key
 * without more code.
 */

export const ENV_PREFIX = "LXNSD_";

/** Options that only make sense on the command line. */
const COMMAND_LINE_ONLY = new Set(["help", "version", "config"]);

/** A bad config file or environment value; lxnsd prints the message and exits 2. */
export class ConfigError extends Error {}

/** Accumulates a repeatable option (`--listen A --listen B`); the file takes a list for it. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The config-file key of an option: its long flag without the dashes. */
export function configKeyOf(option: Option): string {
  return (option.long ?? "").replace(/^--/, "");
}

/** The environment variable of an option: `LXNSD_` and its long name in upper snake case. */
export function envNameOf(option: Option): string {
  return ENV_PREFIX + configKeyOf(option).toUpperCase().replace(/-/g, "_");
}

function configurable(option: Option): boolean {
  return option.long !== undefined && !option.negate && !COMMAND_LINE_ONLY.has(configKeyOf(option));
}

function repeatable(option: Option): boolean {
  return option.variadic || option.parseArg === (collect as unknown);
}

/**
 * A commander program whose every option (but --help and --config) gets its
 * env var, shown in --help, as it is added: commander wires an env var only
 * for options that have one when they are added.
 */
export class ConfigurableCommand extends Command {
  override addOption(option: Option): this {
    if (configurable(option) && option.envVar === undefined) option.env(envNameOf(option));
    return super.addOption(option);
  }
}

/** Reads a config file: a JSON or YAML mapping from option names to values. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let values: unknown;
  try {
    values = parseYaml(text); // YAML 1.2 is a superset of JSON: one parser reads both
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON or YAML: ${(err as Error).message}`);
  }
  if (values === null || values === undefined) return {};
  if (typeof values !== "object" || Array.isArray(values)) throw new ConfigError(`${file}: expected a mapping of option names to values`);
  return values as Record<string, unknown>;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

/** One file value as the option's parser would have made it from the command line. */
function parseValue(option: Option, value: unknown, where: string): unknown {
  const parse = (text: string, previous: unknown): unknown => {
    try {
      return option.parseArg ? option.parseArg(text, previous) : text;
    } catch (err) {
      throw new ConfigError(`${where}: ${JSON.stringify(text)} is invalid: ${(err as Error).message}`);
    }
  };
  const scalar = (item: unknown): string => {
    if (typeof item === "string") return item;
    if (typeof item === "number" && Number.isFinite(item)) return String(item);
    throw new ConfigError(`${where}: expected a string or number, got ${typeName(item)}`);
  };
  if (option.isBoolean()) {
    if (typeof value !== "boolean") throw new ConfigError(`${where}: expected true or false, got ${typeName(value)}`);
    return value;
  }
  if (Array.isArray(value)) {
    if (!repeatable(option)) throw new ConfigError(`${where}: takes one value, got a list`);
    return value.reduce<unknown>((previous, item) => parse(scalar(item), previous), undefined);
  }
  return parse(scalar(value), undefined);
}

/** Sets the options `values` (read from `file`) names, unless a flag or env var already set them. */
export function applyConfigValues(program: Command, values: Record<string, unknown>, file: string): void {
  const byKey = new Map(program.options.filter(configurable).map((option) => [configKeyOf(option), option]));
  for (const [key, value] of Object.entries(values)) {
    const option = byKey.get(key);
    if (option === undefined) {
      const known = [...byKey.keys()].join(", ");
      throw new ConfigError(`${file}: unknown key "${key}" (the keys are the long flag names: ${known})`);
    }
    const parsed = parseValue(option, value, `${file}: ${key}`);
    const attribute = option.attributeName();
    const source = program.getOptionValueSource(attribute);
    if (source === undefined || source === "default") program.setOptionValueWithSource(attribute, parsed, "config");
  }
}

const TRUE = new Set(["", "1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/** Commander turns a boolean option on whenever its env var exists; read its value instead (`0`, `false` mean off). */
function readBooleanEnv(program: Command, env: NodeJS.ProcessEnv): void {
  for (const option of program.options) {
    if (!option.isBoolean() || option.envVar === undefined) continue;
    const attribute = option.attributeName();
    if (program.getOptionValueSource(attribute) !== "env") continue;
    const text = (env[option.envVar] ?? "").trim().toLowerCase();
    if (FALSE.has(text)) program.setOptionValueWithSource(attribute, false, "env");
    else if (!TRUE.has(text)) throw new ConfigError(`${option.envVar}: expected true or false (1/0, yes/no), got ${JSON.stringify(env[option.envVar])}`);
  }
}

/**
 * Parses `argv` (process.argv form) with commander (flags, then env vars),
 * then fills what neither set from the `--config` file; returns the options.
 * Throws CommanderError for a bad flag or env value, ConfigError for a bad file.
 */
export function parseWithSources<T extends Record<string, unknown>>(program: Command, argv: string[] = process.argv): T {
  program.parse(argv);
  readBooleanEnv(program, process.env);
  const file = program.opts().config as string | undefined;
  if (file !== undefined) applyConfigValues(program, readConfigFile(file), file);
  return program.opts<T>();
}
