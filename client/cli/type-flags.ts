import { Option } from "commander";
import type { Command } from "commander";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import type { NamespaceKind } from "../../api/namespace-types";

/** One namespace type's flag, as nsenter(1) and unshare(1) spell it. */
export interface TypeFlag {
  kind: NamespaceKind;
  short: string;
  long: string;
}

const SHORT_AND_LONG: Record<string, [string, string]> = {
  user: ["U", "user"],
  cgroup: ["C", "cgroup"],
  ipc: ["i", "ipc"],
  net: ["n", "net"],
  mnt: ["m", "mount"],
  pid: ["p", "pid"],
  time: ["T", "time"],
  uts: ["u", "uts"],
};

/** The eight flags, in NAMESPACE_KINDS (join) order. */
export const TYPE_FLAGS: readonly TypeFlag[] = NAMESPACE_KINDS.map((kind) => {
  const [short, long] = SHORT_AND_LONG[kind.name];
  return { kind, short, long };
});

/** Adds `-U, --user` … `-u, --uts` as boolean options to `command`; `help` words each one. */
export function addTypeFlags(command: Command, help: (kind: NamespaceKind) => string): Command {
  for (const flag of TYPE_FLAGS) command.addOption(new Option(`-${flag.short}, --${flag.long}`, help(flag.kind)));
  return command;
}

/** The kinds whose flags are set in parsed `options`, in join order. */
export function flaggedKinds(options: Record<string, unknown>): NamespaceKind[] {
  return TYPE_FLAGS.filter((flag) => options[flag.long] === true).map((flag) => flag.kind);
}
