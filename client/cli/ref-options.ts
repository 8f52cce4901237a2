import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { NamespaceRefSchema, NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceKind } from "../../api/namespace-types";
import type { ContainerFlags } from "./container-options";
import { parseKind } from "./parse-values";
import { TargetOptions } from "./target-options";
import { addTypeFlags, flaggedKinds } from "./type-flags";
import { UsageError } from "./usage-error";

/** The parsed target, type and relation flags of inspect and open. */
export interface RefOptions extends ContainerFlags {
  target?: number;
  self?: boolean;
  handle?: string;
  path?: string;
  type?: NamespaceKind;
  owner?: boolean;
  parent?: boolean;
  [typeFlag: string]: unknown;
}

const TARGETS = new TargetOptions({
  pid: "the namespace of process PID",
  self: "the daemon's own namespace",
  handle: "a handle from open or unshare",
  path: "an nsfs file (/proc/PID/ns/TYPE or a pin)",
});

/**
 * Adds the nsenter-style flags that name one namespace to `command`: a
 * target (`-t PID`, `--self`, `--handle ID`, `--path FILE`), a type
 * (`-n`, `--net`, … or `--type NAME`) and a relation (`--owner`, `--parent`).
 */
export function addRefOptions(command: Command): Command {
  TARGETS.addTo(command);
  addTypeFlags(command, (kind) => `${kind.name} namespace`);
  command
    .addOption(new Option("--type <name>", "namespace type by name (user, cgroup, ipc, net, mnt, pid, time, uts)").argParser(parseKind))
    .addOption(new Option("--owner", "its owning user namespace instead").conflicts("parent"))
    .addOption(new Option("--parent", "its parent namespace instead (pid and user namespaces)"));
  return command;
}

/**
 * The NamespaceRef the flags name. Throws UsageError without a target, with
 * two types, or without a type where the daemon needs one (a pid or --self).
 */
export function refFromOptions(options: RefOptions): NamespaceRef {
  const kinds = flaggedKinds(options);
  if (options.type) kinds.push(options.type);
  if (kinds.length > 1) throw new UsageError(`one namespace type only, got ${kinds.map((kind) => kind.name).join(" and ")}`);
  const type = kinds[0]?.type ?? NamespaceType.UNSPECIFIED;
  const source = TARGETS.required(options);
  if (type === NamespaceType.UNSPECIFIED && (source.case === "pid" || source.case === "self" || source.case === "container")) {
    throw new UsageError("a namespace type is required with --target, --self, --container and --pod (-n, --net, … or --type NAME)");
  }
  const relation = options.owner ? Relation.OWNER : options.parent ? Relation.PARENT : Relation.UNSPECIFIED;
  return create(NamespaceRefSchema, { type, source, relation });
}
