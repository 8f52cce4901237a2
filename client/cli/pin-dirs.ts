import * as path from "node:path";
import { Option } from "commander";
import type { Command } from "commander";
import { DEFAULT_NETNS_DIR, DEFAULT_STATE_DIR, PIN_NAME, PROC_NS_PATH } from "../../api/pin-paths";
import { UsageError } from "./usage-error";

/** Where the daemon keeps pins, as lxnsctl knows it (the daemon's --state-dir and --netns-dir). */
export interface CliPinDirs {
  /** `<state dir>/ns`: every pin. */
  ns: string;
  /** The daemon's --netns-dir, where network namespaces are pinned too; undefined = none. */
  netns?: string;
}


/** Adds the global --state-dir and --netns-dir: where the daemon keeps pins, for pins, --pin and --net=FILE. */
export function addPinDirOptions(program: Command): Command {
  return program
    .addOption(new Option("--state-dir <dir>", `the daemon's --state-dir: pins are DIR/ns/NAME (env: LXNSD_STATE_DIR; default: ${DEFAULT_STATE_DIR})`))
    .addOption(new Option("--netns-dir <dir>", `the daemon's --netns-dir, where net pins appear for \`ip netns\` too (env: LXNSD_NETNS_DIR; default: ${DEFAULT_NETNS_DIR}; '' = none)`));
}

/** The pin directories from the global flags, else LXNSD_STATE_DIR and LXNSD_NETNS_DIR, else the daemon's defaults. */
export function pinDirsOf(globals: { stateDir?: string; netnsDir?: string }, env: Record<string, string | undefined>): CliPinDirs {
  const stateDir = globals.stateDir ?? (env.LXNSD_STATE_DIR || DEFAULT_STATE_DIR);
  const netns = globals.netnsDir ?? env.LXNSD_NETNS_DIR ?? DEFAULT_NETNS_DIR;
  return { ns: path.resolve(stateDir, "ns"), ...(netns ? { netns: path.resolve(netns) } : {}) };
}

/** The file of pin `name`; UsageError for a name the daemon could not have given a pin. */
export function pinFile(dirs: CliPinDirs, name: string, flag = "--pin"): string {
  if (!PIN_NAME.test(name)) throw new UsageError(`${flag} ${JSON.stringify(name)}: a pin name is letters, digits, '.', '_' and '-' (see lxnsctl pins)`);
  return path.join(dirs.ns, name);
}

/**
 * `file` made absolute (against lxnsctl's directory, as nsenter opens it),
 * when it is one the daemon joins: /proc/PID/ns/TYPE or a pin (NAME directly
 * in one of `dirs`). UsageError otherwise, before any call.
 */
export function joinableFile(dirs: CliPinDirs, file: string, flag: string): string {
  if (file === "") throw new UsageError(`${flag}=FILE: the file is empty`);
  const absolute = path.resolve(file);
  if (PROC_NS_PATH.test(absolute)) return absolute;
  const dir = path.dirname(absolute);
  if ((dir === dirs.ns || dir === dirs.netns) && PIN_NAME.test(path.basename(absolute))) return absolute;
  const where = [dirs.ns, dirs.netns].filter(Boolean).join(" or ");
  throw new UsageError(`${flag}=${file}: the daemon joins only /proc/PID/ns/TYPE and pins (NAME directly in ${where}; see --state-dir, --netns-dir)`);
}
