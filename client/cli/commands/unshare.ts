import { create } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Option } from "commander";
import type { Command } from "commander";
import { UnshareRequestSchema, UnshareResponseSchema } from "../../gen/lxnsd/v1/namespace_service_pb";
import type { UnshareRequest } from "../../gen/lxnsd/v1/namespace_service_pb";
import { NamespaceType } from "../../gen/lxnsd/v1/types_pb";
import type { IdMapping } from "../../gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import { formatHandles } from "../format";
import { collect, parseIdMapping, parseNonNegativeSeconds, parseSeconds } from "../parse-values";
import { addTypeFlags, flaggedKinds } from "../type-flags";
import { UsageError } from "../usage-error";

/** The parsed flags of `lxnsctl unshare`. */
export interface UnshareOptionsFlags {
  mapRootUser?: boolean;
  mapUsers?: IdMapping[];
  mapGroups?: IdMapping[];
  hostname?: string;
  monotonic?: Duration;
  boottime?: Duration;
  loopbackUp?: boolean;
  lease?: Duration;
  [typeFlag: string]: unknown;
}

/**
 * The UnshareRequest the flags ask for. As in util-linux unshare, a user
 * mapping (-r, --map-users, --map-groups) implies --user. Throws UsageError
 * when no namespace type is given; whether the options fit the types is the
 * daemon's to say.
 */
export function unshareRequest(flags: UnshareOptionsFlags): UnshareRequest {
  const types = flaggedKinds(flags).map((kind) => kind.type);
  const mapsUsers = flags.mapRootUser || flags.mapUsers?.length || flags.mapGroups?.length;
  if (mapsUsers && !types.includes(NamespaceType.USER)) types.unshift(NamespaceType.USER);
  if (types.length === 0) throw new UsageError("at least one namespace type is required (-U, -C, -i, -n, -m, -p, -T, -u)");
  return create(UnshareRequestSchema, {
    types,
    options: {
      mapRoot: flags.mapRootUser ?? false,
      uidMap: flags.mapUsers ?? [],
      gidMap: flags.mapGroups ?? [],
      hostname: flags.hostname ?? "",
      monotonicOffset: flags.monotonic,
      boottimeOffset: flags.boottime,
      loopbackUp: flags.loopbackUp ?? false,
    },
    lease: flags.lease,
  });
}

/**
 * `lxnsctl unshare`: create namespaces held by the daemon (Unshare) and
 * print `HANDLE TYPE NS` per new namespace. Running a program in them
 * (`-- CMD`) is left for later: extra arguments are refused for now.
 */
export function registerUnshare(program: Command, ctx: CliContext): void {
  const command = program.command("unshare").description("create new namespaces held by the daemon; prints HANDLE TYPE NS per namespace");
  addTypeFlags(command, (kind) => `new ${kind.name} namespace`)
    .addOption(new Option("-r, --map-root-user", "map uid/gid 0 inside to the daemon's uid/gid (implies --user)"))
    .addOption(new Option("--map-users <inner:outer:count>", "uid_map line; repeatable (implies --user)").argParser(collect(parseIdMapping)))
    .addOption(new Option("--map-groups <inner:outer:count>", "gid_map line; repeatable (implies --user)").argParser(collect(parseIdMapping)))
    .addOption(new Option("--hostname <name>", "hostname of the new uts namespace"))
    .addOption(new Option("--monotonic <seconds>", "CLOCK_MONOTONIC offset of the new time namespace").argParser(parseSeconds))
    .addOption(new Option("--boottime <seconds>", "CLOCK_BOOTTIME offset of the new time namespace").argParser(parseSeconds))
    .addOption(new Option("--loopback-up", "bring lo up in the new net namespace"))
    .addOption(new Option("--lease <seconds>", "lease of every handle (default: the daemon's)").argParser(parseNonNegativeSeconds))
    .addHelpText("after", "\nExamples:\n  lxnsctl unshare -n --loopback-up\n  lxnsctl unshare -r -n -u --hostname box\n  lxnsctl unshare -T --boottime 86400 --monotonic 0.5")
    .action(async (flags: UnshareOptionsFlags, self: Command) => {
      const response = await ctx.connect(self).unshare(unshareRequest(flags), ctx.callOptions(self));
      ctx.print(self, UnshareResponseSchema, response, (r) => formatHandles(r.handles));
    });
}
