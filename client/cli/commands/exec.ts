import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS } from "../../../api/namespace-types";
import type { NamespaceKind } from "../../../api/namespace-types";
import type { LxnsdClient } from "../../create-client";
import type { CallOptions } from "../../rpc/call-options";
import type { CliContext } from "../cli-context";
import { addContainerOptions, containerRefOf } from "../container-options";
import type { ContainerFlags } from "../container-options";
import { collect, parsePid } from "../parse-values";
import { addProgramOptions, programSpec } from "../program-options";
import type { ProgramFlags } from "../program-options";
import { EXIT_STATUS_HELP, runProgram } from "../run-program";
import { addTypeFlags, flaggedKinds } from "../type-flags";
import { UsageError } from "../usage-error";

/** The parsed flags of `lxnsctl exec`. */
export interface ExecFlags extends ProgramFlags, ContainerFlags {
  target?: number;
  all?: boolean;
  handle?: string[];
  [typeFlag: string]: unknown;
}

/**
 * The namespaces the flags join: each flagged type (all eight with --all) of
 * the target, then each --handle. Throws UsageError for a type without a
 * target, a target without a type, or nothing to join.
 */
export function execJoins(flags: ExecFlags): { kinds: NamespaceKind[]; refs: NamespaceRef[] } {
  const kinds = flags.all ? [...NAMESPACE_KINDS] : flaggedKinds(flags);
  const handles = flags.handle ?? [];
  const source = targetSource(flags);
  if (kinds.length > 0 && source === undefined) throw new UsageError("namespace type flags need a target: -t PID, --container ID or --pod NAMESPACE/NAME");
  if (source !== undefined && kinds.length === 0) throw new UsageError("which namespaces of the target? -U, -C, -i, -n, -m, -p, -T, -u or -a");
  if (source === undefined && handles.length === 0) throw new UsageError("nothing to join: -t PID with namespace flags (or -a), or --handle ID");
  const refs = kinds.map((kind) => create(NamespaceRefSchema, { type: kind.type, source }));
  for (const handle of handles) refs.push(create(NamespaceRefSchema, { source: { case: "handle", value: handle } }));
  return { kinds, refs };
}

/** The process whose namespaces the flags join: -t PID or a container flag; undefined for none. */
export function targetSource(flags: ExecFlags): NamespaceRef["source"] | undefined {
  if (flags.target !== undefined) return { case: "pid", value: flags.target };
  const container = containerRefOf(flags);
  return container ? { case: "container", value: container } : undefined;
}

/**
 * Under --all, drops the target's user namespace when it is the daemon's own:
 * setns(2) refuses to join the user namespace one is in (EINVAL), and
 * nsenter --all skips it likewise. Explicit -U keeps it (nsenter -U fails too).
 */
async function skipOwnUserNamespace(client: LxnsdClient, options: CallOptions, target: NamespaceRef["source"], refs: NamespaceRef[]): Promise<NamespaceRef[]> {
  const ref = (source: NamespaceRef["source"]) => ({ ref: create(NamespaceRefSchema, { type: NamespaceType.USER, source }) });
  const [theirs, ours] = await Promise.all([client.inspect(ref(target), options), client.inspect(ref({ case: "self", value: true }), options)]);
  const same = theirs?.info && ours?.info && theirs.info.nsId === ours.info.nsId && theirs.info.device === ours.info.device;
  return same ? refs.filter((r) => !(r.type === NamespaceType.USER && r.source.case === target.case)) : refs;
}

/** `lxnsctl exec`: run a program in a process's namespaces (ProcessService.Exec), nsenter-style. */
export function registerExec(program: Command, ctx: CliContext): void {
  const command = program
    .command("exec")
    .description("run a program in namespaces of a process (or held handles), like nsenter; stdio is streamed")
    .usage("[options] -- command [args...]")
    .argument("[command...]", "the program and its arguments (after --)")
    .addOption(new Option("-t, --target <pid>", "the process whose namespaces to join").argParser(parsePid).conflicts(["container", "pod", "podUid"]))
    .addOption(new Option("-a, --all", "join all eight namespaces of the target (its user namespace only if it is not the daemon's)"))
    .addOption(new Option("--handle <id>", "also join the namespace of this handle (from open or unshare); repeatable").argParser(collect(String)));
  addContainerOptions(command, ["target"]);
  addTypeFlags(command, (kind) => `join the target's ${kind.name} namespace`);
  addProgramOptions(command)
    .addHelpText(
      "after",
      `
The daemon joins the namespaces in its own order (user first), whatever the
order of the flags, then runs the program with argv[0] looked up on PATH inside
the joined mount namespace.
${EXIT_STATUS_HELP}

Examples:
  lxnsctl exec -t 1234 -n -- ip addr
  lxnsctl exec -t 1234 -a -- sh -c 'hostname; id'
  lxnsctl exec -t 1234 -m -p --uid 1000 --cwd /tmp --env TERM -- ps ax
  lxnsctl exec --handle h-abc -- readlink /proc/self/ns/net
  lxnsctl exec --container containerd://4f1e6c3b2a1d -n -- ip addr
  lxnsctl exec --pod shop/web --container-name app -a -- sh`,
    )
    .action(async (argv: string[], flags: ExecFlags, self: Command) => {
      let { refs } = execJoins(flags);
      const spec = programSpec(argv, flags, ctx.io.env ?? process.env);
      if (flags.all) refs = await skipOwnUserNamespace(ctx.connect(self), ctx.callOptions(self), targetSource(flags)!, refs);
      ctx.exitCode = await runProgram(ctx, self, { ...spec, join: refs }, { stdin: flags.stdin !== false });
    });
}
