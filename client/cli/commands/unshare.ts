import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Option } from "commander";
import type { Command } from "commander";
import { PinResponseSchema, UnshareRequestSchema, UnshareResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import type { UnshareRequest } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import { IdMappingSchema } from "../../../api/gen/lxnsd/v1/types_pb";
import type { IdMapping, UnshareOptionsSchema } from "../../../api/gen/lxnsd/v1/types_pb";
import type { ExecSpecInit } from "../../process-client";
import type { CliContext } from "../cli-context";
import { formatHandles } from "../format";
import { addProgramOptions, localSide, parseId, programSpec } from "../program-options";
import type { LocalSide } from "../program-options";
import type { ProgramFlags } from "../program-options";
import { EXIT_STATUS_HELP, runProgram } from "../run-program";
import type { ContainerFlags } from "../container-options";
import { collect, parseIdMapping, parseNonNegativeSeconds, parseSeconds } from "../parse-values";
import { TargetOptions } from "../target-options";
import { addTypeFlags, flaggedKinds } from "../type-flags";
import { UsageError } from "../usage-error";
import { pinFile } from "../pin-dirs";

/** The parsed flags of `lxnsctl unshare`. */
export interface UnshareOptionsFlags extends ContainerFlags {
  mapRootUser?: boolean;
  mapUsers?: IdMapping[];
  mapGroups?: IdMapping[];
  mapCurrentUser?: boolean;
  mapUser?: number;
  mapGroup?: number;
  hostname?: string;
  monotonic?: Duration;
  boottime?: Duration;
  loopbackUp?: boolean;
  lease?: Duration;
  target?: number;
  fork?: boolean;
  mountProc?: boolean;
  pin?: string;
  [typeFlag: string]: unknown;
}

/**
 * The types and UnshareOptions the flags ask for, types in NamespaceType
 * order. As in util-linux unshare, a user mapping (-r, --map-users,
 * --map-groups) implies --user, and --mount-proc implies --mount (and needs
 * --pid: the daemon mounts a fresh /proc when it creates both). Throws
 * UsageError when no namespace type is given; whether the options fit the
 * types is the daemon's to say.
 */
export function unshareTypesAndOptions(flags: UnshareOptionsFlags, local: LocalIds = localIds()): { types: NamespaceType[]; options: MessageInitShape<typeof UnshareOptionsSchema> } {
  const types = flaggedKinds(flags).map((kind) => kind.type);
  const { uidMap, gidMap } = idMaps(flags, local);
  const mapsUsers = flags.mapRootUser || uidMap.length > 0 || gidMap.length > 0;
  if (mapsUsers && !types.includes(NamespaceType.USER)) types.push(NamespaceType.USER);
  if (flags.mountProc) {
    if (!types.includes(NamespaceType.PID)) throw new UsageError("--mount-proc needs --pid: /proc is mounted fresh for a new pid namespace");
    if (!types.includes(NamespaceType.MNT)) types.push(NamespaceType.MNT);
  }
  if (types.length === 0) throw new UsageError("at least one namespace type is required (-U, -C, -i, -n, -m, -p, -T, -u)");
  // What the daemon would refuse with its field names, said here with the flags' (exit 2, no call).
  const needs = (given: unknown, type: NamespaceType, flag: string, typeFlag: string) => {
    if (given !== undefined && given !== false && !types.includes(type)) throw new UsageError(`${flag} needs ${typeFlag}`);
  };
  needs(flags.monotonic, NamespaceType.TIME, "--monotonic", "-T/--time (a new time namespace)");
  needs(flags.boottime, NamespaceType.TIME, "--boottime", "-T/--time (a new time namespace)");
  needs(flags.hostname, NamespaceType.UTS, "--hostname", "-u/--uts (a new uts namespace)");
  needs(flags.loopbackUp, NamespaceType.NET, "--loopback-up", "-n/--net (a new net namespace)");
  types.sort((a, b) => a - b);
  return {
    types,
    options: {
      mapRoot: flags.mapRootUser ?? false,
      uidMap,
      gidMap,
      hostname: flags.hostname ?? "",
      monotonicOffset: flags.monotonic,
      boottimeOffset: flags.boottime,
      loopbackUp: flags.loopbackUp ?? false,
    },
  };
}

/** lxnsctl's effective ids: what -c, --map-user and --map-group map. */
export interface LocalIds {
  uid: number;
  gid: number;
}

function localIds(): LocalIds {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/**
 * The uid_map and gid_map lines of the mapping flags, as util-linux unshare
 * reads them: --map-users/--map-groups lines as given; -c/--map-current-user
 * maps lxnsctl's effective uid and gid to themselves, --map-user=UID and
 * --map-group=GID map them to UID and GID inside. -r excludes the others,
 * and each map takes one way of being given (UsageError naming the flags).
 */
export function idMaps(flags: UnshareOptionsFlags, local: LocalIds): { uidMap: IdMapping[]; gidMap: IdMapping[] } {
  const line = (insideId: number, outsideId: number) => create(IdMappingSchema, { insideId, outsideId, length: 1 });
  const uidWays: [string, IdMapping[]][] = [];
  const gidWays: [string, IdMapping[]][] = [];
  if (flags.mapUsers?.length) uidWays.push(["--map-users", flags.mapUsers]);
  if (flags.mapGroups?.length) gidWays.push(["--map-groups", flags.mapGroups]);
  if (flags.mapCurrentUser) {
    uidWays.push(["-c/--map-current-user", [line(local.uid, local.uid)]]);
    gidWays.push(["-c/--map-current-user", [line(local.gid, local.gid)]]);
  }
  if (flags.mapUser !== undefined) uidWays.push(["--map-user", [line(flags.mapUser, local.uid)]]);
  if (flags.mapGroup !== undefined) gidWays.push(["--map-group", [line(flags.mapGroup, local.gid)]]);
  if (flags.mapRootUser) {
    const other = [...uidWays, ...gidWays][0];
    if (other) throw new UsageError(`-r/--map-root-user and ${other[0]}: give one mapping`);
  }
  for (const ways of [uidWays, gidWays]) {
    if (ways.length > 1) throw new UsageError(`${ways[0][0]} and ${ways[1][0]}: give one mapping`);
  }
  return { uidMap: uidWays[0]?.[1] ?? [], gidMap: gidWays[0]?.[1] ?? [] };
}

/** The process new held namespaces start from: --target PID, or a container or pod (its init, or its sandbox's). */
const TARGET = new TargetOptions({
  pid: { flags: "--target <pid>", help: "create them as process PID: from its namespaces, with its credentials (required for an identity with target rules; not with a command)" },
});

/** The UnshareRequest the flags ask for (no command: namespaces held by the daemon). */
export function unshareRequest(flags: UnshareOptionsFlags): UnshareRequest {
  if (flags.mountProc) throw new UsageError("--mount-proc needs a program to run (-- CMD): held namespaces get no /proc");
  const { types, options } = unshareTypesAndOptions(flags);
  const source = TARGET.source(flags);
  return create(UnshareRequestSchema, { types, options, lease: flags.lease, target: source && { source } });
}

/** The ExecSpec of `unshare ... -- CMD`: the program in new namespaces. */
export function unshareProgramSpec(argv: string[], flags: UnshareOptionsFlags & ProgramFlags, local: LocalSide): ExecSpecInit {
  if (flags.lease !== undefined) throw new UsageError("--lease is for held namespaces; a program's namespaces go with it");
  if (TARGET.source(flags) !== undefined) throw new UsageError("--target and the container flags are for held namespaces; a program runs as the process its joins name (lxnsctl exec)");
  if (flags.pin !== undefined) throw new UsageError("--pin is for held namespaces: lxnsctl unshare -n --pin NAME, then lxnsctl exec --pin NAME -- CMD");
  const { types, options } = unshareTypesAndOptions(flags);
  // lxnsctl's directory is the default only where the program stays in the daemon's mount namespace.
  const base = types.includes(NamespaceType.MNT) ? { ...local, cwd: undefined } : local;
  return { ...programSpec(argv, flags, base), unshare: types, unshareOptions: options };
}

/**
 * `lxnsctl unshare`: without a command, create namespaces held by the daemon
 * (Unshare) and print `HANDLE TYPE NS` per new namespace; with `-- CMD`, run
 * CMD in new namespaces (ProcessService.Exec) and exit with its status.
 */
export function registerUnshare(program: Command, ctx: CliContext): void {
  const command = program
    .command("unshare")
    .description("create new namespaces: held by the daemon (prints HANDLE TYPE NS per namespace), or, with -- CMD, for a program run in them")
    .usage("[options] [-- command [args...]]")
    .argument("[command...]", "a program to run in the new namespaces, and its arguments: the first argument that is not an option");
  addTypeFlags(command, (kind) => `new ${kind.name} namespace`)
    .addOption(new Option("-r, --map-root-user", "map uid/gid 0 inside to the daemon's uid/gid, with --target to the target's (implies --user)"))
    .addOption(new Option("--map-users <inner:outer:count>", "uid_map line; repeatable (implies --user)").argParser(collect(parseIdMapping)))
    .addOption(new Option("--map-groups <inner:outer:count>", "gid_map line; repeatable (implies --user)").argParser(collect(parseIdMapping)))
    .addOption(new Option("-c, --map-current-user", "map lxnsctl's effective uid and gid to the same ids inside (implies --user)"))
    .addOption(new Option("--map-user <uid>", "map lxnsctl's effective uid to UID inside (implies --user)").argParser(parseId))
    .addOption(new Option("--map-group <gid>", "map lxnsctl's effective gid to GID inside (implies --user)").argParser(parseId))
    .addOption(new Option("--hostname <name>", "hostname of the new uts namespace"))
    .addOption(new Option("--monotonic <seconds>", "CLOCK_MONOTONIC offset of the new time namespace").argParser(parseSeconds))
    .addOption(new Option("--boottime <seconds>", "CLOCK_BOOTTIME offset of the new time namespace").argParser(parseSeconds))
    .addOption(new Option("--loopback-up", "bring lo up in the new net namespace"))
    .addOption(new Option("--lease <seconds>", "lease of every handle (default: the daemon's; not with a command)").argParser(parseNonNegativeSeconds))
    .addOption(new Option("--pin <name>", "pin the one new namespace as NAME and print its path, as `ip netns add NAME` (not with a command)"))
    .addOption(new Option("-f, --fork", "accepted for util-linux compatibility; the daemon always forks the program into a new pid namespace"))
    .addOption(new Option("--mount-proc", "with a command: a fresh /proc for the new pid namespace (implies --mount, needs --pid; the daemon does this whenever both are new)"));
  TARGET.addTo(command);
  addProgramOptions(command)
    .addHelpText(
      "after",
      `
With a command the namespaces belong to the program and go when it does (no
handles); the program is PID 1 of a new pid namespace, and with --pid and
--mount gets a fresh /proc. The program options (-S, -G, -w, --env,
--timeout-program, --no-stdin, --tty, --no-tty) apply only with a command.
${EXIT_STATUS_HELP}

Examples:
  lxnsctl unshare -n --loopback-up
  lxnsctl unshare -r -n -u --hostname box
  lxnsctl unshare -T --boottime 86400 --monotonic 0.5
  lxnsctl unshare -u --pod shop/web --container-name app
  lxnsctl unshare -n --pin web                # as ip netns add web
  lxnsctl unshare -n -- readlink /proc/self/ns/net
  lxnsctl unshare -r -p -f --mount-proc -- ps ax`,
    )
    .action(async (argv: string[], flags: UnshareOptionsFlags & ProgramFlags, self: Command) => {
      if (argv.length === 0) {
        if (programFlagsGiven(flags)) throw new UsageError("-S, -G, -w, -W, --env, --timeout-program, --no-stdin and --tty/--no-tty need a program to run (-- CMD)");
        if (flags.pin !== undefined) return unshareAndPin(ctx, self, flags, flags.pin);
        const response = await ctx.connect(self).unshare(unshareRequest(flags), ctx.callOptions(self));
        ctx.print(self, UnshareResponseSchema, response, (r) => formatHandles(r.handles));
        return;
      }
      // A new mount namespace is a copy of the daemon's: lxnsctl's directory is there too.
      const spec = unshareProgramSpec(argv, flags, { ...localSide(ctx.io), cwd: process.cwd() });
      ctx.exitCode = await runProgram(ctx, self, spec, { stdin: flags.stdin !== false, tty: flags.tty });
    });
}

/**
 * `unshare --pin NAME`: Unshare one namespace, Pin its handle as NAME, Close
 * the handle (also when Pin fails); prints the pin's path as `pin` does.
 */
async function unshareAndPin(ctx: CliContext, self: Command, flags: UnshareOptionsFlags, name: string): Promise<void> {
  const request = unshareRequest(flags);
  if (request.types.length !== 1) throw new UsageError(`--pin pins one namespace, and these flags make ${request.types.length} (as ip netns add makes one net namespace)`);
  pinFile(ctx.pinDirs(self), name);
  const client = ctx.connect(self);
  const { handles } = await client.unshare(request, ctx.callOptions(self));
  try {
    const response = await client.pin({ ref: { source: { case: "handle", value: handles[0].id } }, name }, ctx.callOptions(self));
    ctx.print(self, PinResponseSchema, response, (r) => `${r.path}\n`);
  } finally {
    await client.close({ handle: handles[0].id }, ctx.callOptions(self)).catch(() => undefined);
  }
}

function programFlagsGiven(flags: ProgramFlags): boolean {
  return (
    flags.uid !== undefined ||
    flags.gid !== undefined ||
    flags.cwd !== undefined ||
    flags.wdns !== undefined ||
    flags.env !== undefined ||
    flags.timeoutProgram !== undefined ||
    flags.stdin === false ||
    flags.tty !== undefined
  );
}
