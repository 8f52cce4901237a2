import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import type { NamespaceInfo } from "../../../api/gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import { formatTable, typeName } from "../format";
import { pinFile } from "../pin-dirs";

/** One pin as `lxnsctl pins` shows it. */
export interface PinRow {
  name: string;
  /** The daemon's answer for the pin's path; undefined when it had none (the error is in `error`). */
  info?: NamespaceInfo;
  path: string;
  /** The processes in the namespace, as `ip netns pids NAME` finds them. */
  pids: number[];
  error?: string;
}

/** The names in the pin directory `dir`, sorted; none when it does not exist. */
export function pinNames(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * The processes in namespace `info`, found as `ip netns pids` finds them:
 * every /proc/PID whose ns/TYPE file has the namespace's device and inode
 * (processes lxnsctl may not look at, or that exit meanwhile, are left out).
 */
export function pidsIn(info: NamespaceInfo, procRoot = "/proc"): number[] {
  const type = typeName(info.type);
  const pids: number[] = [];
  for (const entry of readdirSync(procRoot)) {
    if (!/^[1-9][0-9]*$/.test(entry)) continue;
    try {
      const stat = statSync(`${procRoot}/${entry}/ns/${type}`, { bigint: true });
      if (stat.ino === info.nsId && stat.dev === info.device) pids.push(Number(entry));
    } catch {
      // gone, or not ours to look at
    }
  }
  return pids.sort((a, b) => a - b);
}

/** `lxnsctl pins`: the pins (NAME TYPE NS PATH PIDS), as `ip netns list` and `ip netns pids` show them. */
export function registerPins(program: Command, ctx: CliContext): void {
  program
    .command("pins")
    .description("list pins: NAME, TYPE, NS, PATH and the processes in each (PIDS, as `ip netns pids NAME`)")
    .argument("[name...]", "only these pins")
    .addHelpText(
      "after",
      `
Pins are read from the daemon's pin directory on this host (DIR/ns, see
--state-dir), as ip netns reads /run/netns; the daemon says what each holds.
PIDS are the processes in the namespace, comma-separated; --json prints
{"pins": [{"name", "type", "nsId", "path", "pids"}]}.

Examples:
  lxnsctl pins
  lxnsctl pins web
  lxnsctl --state-dir /var/run/lxnsd pins --json`,
    )
    .action(async (names: string[], _options: unknown, self: Command) => {
      const dirs = ctx.pinDirs(self);
      const wanted = names.length > 0 ? names : pinNames(dirs.ns);
      const client = ctx.connect(self);
      const rows: PinRow[] = [];
      for (const name of wanted) {
        const file = pinFile(dirs, name, "pins");
        try {
          const { info } = await client.inspect({ ref: { source: { case: "path", value: file } } }, ctx.callOptions(self));
          rows.push({ name, info, path: file, pids: info ? pidsIn(info) : [] });
        } catch (err) {
          ctx.report(err);
          rows.push({ name, path: file, pids: [], error: String(err) });
        }
      }
      const shown = rows.filter((row) => row.info);
      if (ctx.globals(self).json) {
        const pins = shown.map((row) => ({ name: row.name, type: typeName(row.info!.type), nsId: row.info!.nsId.toString(), path: row.path, pids: row.pids }));
        ctx.io.stdout(`${JSON.stringify({ pins }, null, 2)}\n`);
        return;
      }
      const cells = shown.map((row) => [row.name, typeName(row.info!.type), row.info!.nsId.toString(), path.normalize(row.path), row.pids.join(",")]);
      ctx.io.stdout(formatTable(["NAME", "TYPE", "NS", "PATH", "PIDS"], cells));
    });
}
