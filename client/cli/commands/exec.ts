import { readFileSync } from "node:fs";
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
import type { ContainerFlags } from "../container-options";
import { collect } from "../parse-values";
import { addProgramOptions, localSide, programCwd, programSpec } from "../program-options";
import type { ProgramFlags } from "../program-options";
import { EXIT_STATUS_HELP, runProgram } from "../run-program";
import { TargetOptions } from "../target-options";
import { TYPE_FLAGS, addTypeFlags, flaggedKinds } from "../type-flags";
import { joinableFile, pinDirsOf, pinFile } from "../pin-dirs";
import type { CliPinDirs } from "../pin-dirs";
import { UsageError } from "../usage-error";

/** The parsed flags of `lxnsctl exec`. */
export interface ExecFlags extends ProgramFlags, ContainerFlags {
  target?: number;
  all?: boolean;
  handle?: string[];
  preserveCredentials?: boolean;
  /** --pin NAME, repeatable. */
  pin?: string[];
  /** nsenter's --net=FILE and the like, as markProgramStart rewrites them: TYPE=FILE. */
  nsFile?: string[];
  [typeFlag: string]: unknown;
}

/** The kind and file of each `--TYPE=FILE`, checked against the pin directories (UsageError: exit 2, no call). */
export function nsFileJoins(flags: ExecFlags, dirs: CliPinDirs): { kind: NamespaceKind; file: string }[] {
  return (flags.nsFile ?? []).map((entry) => {
    const equals = entry.indexOf("=");
    const flag = TYPE_FLAGS.find((f) => f.long === entry.slice(0, equals))!;
    return { kind: flag.kind, file: joinableFile(dirs, entry.slice(equals + 1), `--${flag.long}`) };
  });
}

/**
 * The namespaces the flags join: each flagged type (all eight with --all) of
 * the target, then each --handle. Throws UsageError for a type without a
 * target, a target without a type, or nothing to join.
 */
export function execJoins(flags: ExecFlags, dirs: CliPinDirs = pinDirsOf({}, {})): { kinds: NamespaceKind[]; refs: NamespaceRef[] } {
  const files = nsFileJoins(flags, dirs);
  const pins = (flags.pin ?? []).map((name) => pinFile(dirs, name));
  // A --TYPE=FILE stands for the target's namespace of that type, as in nsenter -a --net=FILE.
  const targetKinds = (flags.all ? [...NAMESPACE_KINDS] : flaggedKinds(flags)).filter((kind) => !files.some((f) => f.kind === kind));
  const handles = flags.handle ?? [];
  const source = targetSource(flags);
  const others = files.length + pins.length + handles.length;
  if (targetKinds.length > 0 && source === undefined) throw new UsageError("namespace type flags need a target: -t PID, --container ID or --pod NAMESPACE/NAME");
  if (source !== undefined && targetKinds.length === 0 && files.length === 0) throw new UsageError("which namespaces of the target? -U, -C, -i, -n, -m, -p, -T, -u or -a");
  if (source === undefined && others === 0) throw new UsageError("nothing to join: -t PID with namespace flags (or -a), --pin NAME, --net=FILE (and the like) or --handle ID");
  const refs = targetKinds.map((kind) => create(NamespaceRefSchema, { type: kind.type, source }));
  for (const { kind, file } of files) refs.push(create(NamespaceRefSchema, { type: kind.type, source: { case: "path", value: file } }));
  for (const file of pins) refs.push(create(NamespaceRefSchema, { source: { case: "path", value: file } }));
  for (const handle of handles) refs.push(create(NamespaceRefSchema, { source: { case: "handle", value: handle } }));
  const kinds = [...targetKinds, ...files.map((f) => f.kind)].sort((a, b) => a.type - b.type);
  return { kinds, refs };
}

/**
 * Whether the program joins a mount namespace: a flagged mnt type, or a pin
 * or handle that holds one (asked of the daemon, which also reports a
 * missing pin or handle before the program is started).
 */
async function joinsMountNamespace(client: LxnsdClient, options: CallOptions, refs: readonly NamespaceRef[]): Promise<boolean> {
  if (refs.some((ref) => ref.type === NamespaceType.MNT)) return true;
  const untyped = refs.filter((ref) => ref.type === NamespaceType.UNSPECIFIED);
  const infos = await Promise.all(untyped.map((ref) => client.inspect({ ref }, options)));
  return infos.some((response) => response?.info?.type === NamespaceType.MNT);
}

/** exec's target: -t PID or a container or pod (its --handle joins more namespaces, it names no target). */
const TARGET = new TargetOptions({ pid: "the process whose namespaces to join" });

/** The process whose namespaces the flags join: -t PID or a container flag; undefined for none. */
export function targetSource(flags: ExecFlags): NamespaceRef["source"] | undefined {
  return TARGET.source(flags);
}

/**
 * The shell to run when no program is given: the target's $SHELL (from
 * /proc/PID/environ, when lxnsctl may read it), else /bin/sh, as nsenter
 * runs a shell.
 */
export function targetShell(pid: number, procRoot = "/proc"): string {
  try {
    const shell = readFileSync(`${procRoot}/${pid}/environ`, "latin1")
      .split("\0")
      .find((entry) => entry.startsWith("SHELL="))
      ?.slice("SHELL=".length);
    return shell && shell.startsWith("/") ? shell : "/bin/sh";
  } catch {
    return "/bin/sh";
  }
}

/** `lxnsctl exec`: run a program in a process's namespaces (ProcessService.Exec), nsenter-style. */
export function registerExec(program: Command, ctx: CliContext): void {
  const command = program
    .command("exec")
    .description("run a program in namespaces of a process (or held handles), like nsenter; stdio is streamed")
    .usage("[options] [--] [command [args...]]")
    .argument("[command...]", "the program and its arguments: the first argument that is not an option (default: the target's $SHELL, else /bin/sh)");
  TARGET.addTo(command)
    .addOption(new Option("-a, --all", "join all eight namespaces of the target (its user namespace only if it is not the daemon's)"))
    .addOption(new Option("--handle <id>", "also join the namespace of this handle (from open or unshare); repeatable").argParser(collect(String)))
    .addOption(new Option("--pin <name>", "also join the namespace pinned as NAME (lxnsctl pins; as `ip netns exec NAME`); repeatable").argParser(collect(String)))
    .addOption(new Option("--ns-file <type=file>", "nsenter's --TYPE=FILE, as lxnsctl reads it").argParser(collect(String)).hideHelp())
    .addOption(new Option("--preserve-credentials", "after joining a user namespace, keep the daemon's ids as they map into it (default: uid 0 and gid 0 inside)"));
  addTypeFlags(command, (kind) => `join the target's ${kind.name} namespace`);
  addProgramOptions(command)
    .addHelpText(
      "after",
      `
Like nsenter, --user=FILE, --cgroup=FILE, --ipc=FILE, --net=FILE,
--mount=FILE, --pid=FILE, --time=FILE and --uts=FILE join the namespace on
FILE (only with '='): a pin (NAME directly in the daemon's pin directories,
see --state-dir and --netns-dir) or /proc/PID/ns/TYPE; with -t/-a it takes
the place of the target's namespace of that type.

The working directory is lxnsctl's own when the program joins no mount
namespace (as nsenter leaves it), else / of the joined mount namespace;
-w DIR, relative, is taken against that.

The daemon joins the namespaces as nsenter does, whatever the order of the
flags: all but the user namespace, then the user namespace, then what failed
before; one the program is in already is not joined again (but the mount
namespace is). After a user namespace is joined the program runs as uid 0 and
gid 0 inside (unless --uid/--gid or --preserve-credentials), setgroups skipped
where the namespace denies it. argv[0] is looked up on PATH inside the joined
mount namespace.
${EXIT_STATUS_HELP}

Examples:
  lxnsctl exec -t 1234 -a -- sh              # a shell in its namespaces, on a terminal
  lxnsctl exec -t 1234 -n -- ip addr
  lxnsctl exec -t 1234 -a -- sh -c 'hostname; id'
  lxnsctl exec -t 1234 -m -p --uid 1000 --cwd /tmp --env TERM -- ps ax
  lxnsctl exec --handle h-abc -- readlink /proc/self/ns/net
  lxnsctl exec --pin web -- ip addr                # as ip netns exec web ip addr
  lxnsctl exec --net=/run/netns/web -t 1234 -u -- hostname
  lxnsctl exec --container containerd://4f1e6c3b2a1d -n -- ip addr
  lxnsctl exec --pod shop/web --container-name app -a -- sh`,
    )
    .action(async (argv: string[], flags: ExecFlags, self: Command) => {
      const { refs } = execJoins(flags, ctx.pinDirs(self));
      // Flags first (exit 2 before any call), then what only the daemon knows.
      programCwd(flags, { env: {}, cwd: "/" });
      const client = ctx.connect(self);
      const staysInOurMountNs = !(await joinsMountNamespace(client, ctx.callOptions(self), refs));
      const local = { ...localSide(ctx.io), ...(staysInOurMountNs ? { cwd: process.cwd() } : {}) };
      const spec = programSpec(argv, flags, local, flags.target !== undefined ? targetShell(flags.target) : "/bin/sh");
      ctx.exitCode = await runProgram(ctx, self, { ...spec, join: refs, ...(flags.preserveCredentials ? { preserveCredentials: true } : {}) }, { stdin: flags.stdin !== false, tty: flags.tty });
    });
}
