import { create } from "@bufbuild/protobuf";
import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import { GetLimitResponseSchema, SetLimitResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceKind } from "../../../api/namespace-types";
import type { CliContext } from "../cli-context";
import { parseInteger, parseKind, parsePid } from "../parse-values";

/** The flags of `lxnsctl limit` that pick another user namespace. */
export interface LimitFlags {
  usernsHandle?: string;
  usernsPid?: number;
}

/** A limit value: 0 to 2147483647, as /proc/sys/user/max_*_namespaces takes. */
export function parseLimitValue(text: string): bigint {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError("Not a non-negative integer.");
  return BigInt(parseInteger(text, 0, 0x7fffffff));
}

/** The user namespace the flags name, or undefined for the daemon's own. */
export function limitUserNamespace(flags: LimitFlags): NamespaceRef | undefined {
  if (flags.usernsHandle !== undefined) return create(NamespaceRefSchema, { type: NamespaceType.USER, source: { case: "handle", value: flags.usernsHandle } });
  if (flags.usernsPid !== undefined) return create(NamespaceRefSchema, { type: NamespaceType.USER, source: { case: "pid", value: flags.usernsPid } });
  return undefined;
}

/** `lxnsctl limit TYPE [VALUE]`: read, or set, max_TYPE_namespaces of a user namespace (GetLimit/SetLimit). */
export function registerLimit(program: Command, ctx: CliContext): void {
  program
    .command("limit")
    .description("print /proc/sys/user/max_TYPE_namespaces of a user namespace, or set it when VALUE is given")
    .argument("<type>", "namespace type (user, cgroup, ipc, net, mnt, pid, time, uts)", parseKind)
    .argument("[value]", "new limit, 0 to 2147483647", parseLimitValue)
    .addOption(new Option("--userns-handle <id>", "the user namespace of this handle").conflicts("usernsPid"))
    .addOption(new Option("--userns-pid <pid>", "the user namespace of process PID").argParser(parsePid))
    .addHelpText("after", "\nExamples:\n  lxnsctl limit user\n  lxnsctl limit net 100 --userns-handle h-abc")
    .action(async (kind: NamespaceKind, value: bigint | undefined, flags: LimitFlags, self: Command) => {
      const client = ctx.connect(self);
      const request = { type: kind.type, userNamespace: limitUserNamespace(flags) };
      if (value === undefined) {
        const response = await client.getLimit(request, ctx.callOptions(self));
        ctx.print(self, GetLimitResponseSchema, response, (r) => `${r.value}\n`);
      } else {
        const response = await client.setLimit({ ...request, value }, ctx.callOptions(self));
        ctx.print(self, SetLimitResponseSchema, response, (r) => `${r.value}\n`);
      }
    });
}
