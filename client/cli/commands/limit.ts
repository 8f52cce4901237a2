import { create } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "commander";
import type { Command } from "commander";
import { GetLimitResponseSchema, SetLimitResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceKind } from "../../../api/namespace-types";
import type { CliContext } from "../cli-context";
import type { ContainerFlags } from "../container-options";
import { parseInteger, parseKind } from "../parse-values";
import { TargetOptions } from "../target-options";

/** The flags of `lxnsctl limit` that pick another user namespace. */
export interface LimitFlags extends ContainerFlags {
  usernsHandle?: string;
  usernsPid?: number;
}

/** A limit value: 0 to 2147483647, as /proc/sys/user/max_*_namespaces takes. */
export function parseLimitValue(text: string): bigint {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError("Not a non-negative integer.");
  return BigInt(parseInteger(text, 0, 0x7fffffff));
}

/** The user namespace's owner: --userns-pid PID, --userns-handle ID, or a container or pod. */
const USERNS = new TargetOptions({
  pid: { flags: "--userns-pid <pid>", help: "the user namespace of process PID" },
  handle: { flags: "--userns-handle <id>", help: "the user namespace of this handle" },
});

/** The user namespace the flags name, or undefined for the daemon's own. */
export function limitUserNamespace(flags: LimitFlags): NamespaceRef | undefined {
  const source = USERNS.source(flags);
  return source && create(NamespaceRefSchema, { type: NamespaceType.USER, source });
}

/** `lxnsctl limit TYPE [VALUE]`: read, or set, max_TYPE_namespaces of a user namespace (GetLimit/SetLimit). */
export function registerLimit(program: Command, ctx: CliContext): void {
  const command = program
    .command("limit")
    .description("print /proc/sys/user/max_TYPE_namespaces of a user namespace, or set it when VALUE is given")
    .argument("<type>", "namespace type (user, cgroup, ipc, net, mnt, pid, time, uts)", parseKind)
    .argument("[value]", "new limit, 0 to 2147483647", parseLimitValue);
  USERNS.addTo(command)
    .addHelpText("after", "\nThe container flags name the user namespace of that container's process.\n\nExamples:\n  lxnsctl limit user\n  lxnsctl limit net 100 --userns-handle h-abc\n  lxnsctl limit net --container 3f2a9c81d4e5")
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
