import { toJson } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
// The enum alone: @grpc/grpc-js's index would load all of grpc-js (lxnsctl --help loads no transport).
import { Status as status } from "@grpc/grpc-js/build/src/constants";
import { Option } from "commander";
import type { Command } from "commander";
import { WatchNamespacesResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import type { ListNamespacesRequestSchema, WatchNamespacesRequest, WatchNamespacesRequestSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { EventKind, NamespaceSummarySchema } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceSummary } from "../../../api/gen/lxnsd/v1/types_pb";
import { LxnsdError } from "../../lxnsd-error";
import type { NamespaceKind } from "../../../api/namespace-types";
import type { CliContext } from "../cli-context";
import { JSON_OPTIONS, typeName } from "../format";
import { COLUMN_NAMES, formatLsTable, parseColumns } from "../ls-table";
import type { ContainerFlags } from "../container-options";
import { collect, parseKind, parseSeconds } from "../parse-values";
import { TargetOptions } from "../target-options";

/** The parsed flags of `ls`. */
export interface LsOptions extends ContainerFlags {
  type?: NamespaceKind[];
  pid?: number;
  output?: string;
  noheadings?: boolean;
  raw?: boolean;
}

/** The parsed flags of `watch`. */
export interface WatchOptions {
  type?: NamespaceKind[];
  interval?: WatchNamespacesRequest["interval"];
}

/** ls's filter: -p PID (its -t is --type), or a container or pod. */
const FILTER = new TargetOptions({ pid: { flags: "-p, --pid <pid>", help: "only the namespaces of process PID" } });

/** The ListNamespaces request `ls` flags ask for. */
export function listRequest(options: LsOptions): MessageInitShape<typeof ListNamespacesRequestSchema> {
  const only = FILTER.source(options);
  const types = (options.type ?? []).map((kind) => kind.type);
  if (only?.case === "container") return { types, pid: 0, container: only.value };
  return { types, pid: only?.case === "pid" ? only.value : 0 };
}

/** The WatchNamespaces request `watch` flags ask for. */
export function watchRequest(options: WatchOptions): MessageInitShape<typeof WatchNamespacesRequestSchema> {
  return { types: (options.type ?? []).map((kind) => kind.type), ...(options.interval ? { interval: options.interval } : {}) };
}

const typeOption = () => new Option("-t, --type <name>", "only namespaces of this type (repeatable)").argParser(collect(parseKind));


/** `lxnsctl ls`: every namespace some process is in (ListNamespaces), as lsns prints them. */
export function registerList(program: Command, ctx: CliContext): void {
  const ls = program
    .command("ls")
    .description("list namespaces as lsns does, with the container and pod of each one's lowest pid: NS TYPE NPROCS PID USER CONTAINER POD COMMAND, sorted by NS")
    .addOption(typeOption());
  FILTER.addTo(ls)
    .addOption(new Option("-o, --output <list>", `the columns, comma-separated, as lsns names them (+LIST adds to the default): ${COLUMN_NAMES.join(", ")}`))
    .addOption(new Option("-n, --noheadings", "no heading line"))
    .addOption(new Option("-r, --raw", "columns one space apart, not aligned (blanks in a cell as \\x20)"))
    .addHelpText("after", "\nNETNSID and NSFS are accepted and left empty.\n\nExamples:\n  lxnsctl ls\n  lxnsctl ls -t net -t uts\n  lxnsctl ls -o NS,TYPE,PATH,PID,PPID,UID -n\n  lxnsctl ls -p 1234 --json\n  lxnsctl ls --pod shop/web --container-name app")
    .action(async (options: LsOptions, self: Command) => {
      const columns = parseColumns(options.output);
      const rows: NamespaceSummary[] = [];
      for await (const response of ctx.connect(self).listNamespaces(listRequest(options), ctx.callOptions(self))) rows.push(response.summary!);
      if (ctx.globals(self).json) {
        ctx.io.stdout(`${JSON.stringify({ namespaces: rows.map((row) => toJson(NamespaceSummarySchema, row, JSON_OPTIONS)) }, null, 2)}\n`);
      } else {
        ctx.io.stdout(formatLsTable(rows, columns, { noHeadings: options.noheadings === true, raw: options.raw, width: ctx.io.columns }));
      }
    });
}

/** `lxnsctl watch`: ADDED/REMOVED lines as namespaces come and go (WatchNamespaces), until interrupted. */
export function registerWatch(program: Command, ctx: CliContext): void {
  program
    .command("watch")
    .description("print ADDED|REMOVED NS TYPE PID COMMAND as namespaces appear and go, until interrupted")
    .addOption(typeOption())
    .addOption(new Option("--interval <seconds>", "how often the daemon looks (default 1, 0.1 to 3600)").argParser(parseSeconds))
    .addHelpText("after", "\nExamples:\n  lxnsctl watch\n  lxnsctl watch -t net --interval 0.5")
    .action(async (options: WatchOptions, self: Command) => {
      const controller = new AbortController();
      const unsubscribe = ctx.io.onSignal?.(() => controller.abort());
      const json = ctx.globals(self).json;
      try {
        for await (const event of ctx.connect(self).watchNamespaces(watchRequest(options), { ...ctx.callOptions(self), signal: controller.signal })) {
          if (json) ctx.io.stdout(`${JSON.stringify(toJson(WatchNamespacesResponseSchema, event, JSON_OPTIONS))}\n`);
          else {
            const s = event.summary!;
            const kind = event.kind === EventKind.ADDED ? "ADDED" : event.kind === EventKind.REMOVED ? "REMOVED" : String(event.kind);
            ctx.io.stdout(`${kind} ${s.info?.nsId ?? "-"} ${typeName(s.info?.type ?? 0)} ${s.pid} ${s.command}\n`);
          }
        }
      } catch (err) {
        // An interrupt ends the watch; that is its normal end.
        if (!(controller.signal.aborted && err instanceof LxnsdError && err.code === status.CANCELLED)) throw err;
      } finally {
        unsubscribe?.();
      }
    });
}
