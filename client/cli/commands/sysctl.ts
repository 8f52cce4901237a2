import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { GetSysctlResponseSchema, SetSysctlResponseSchema } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceRefSchema } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import { addFileTargetOptions, fileTargets } from "./file";
import type { FileTargetOptions } from "./file";

interface SysctlOptions extends FileTargetOptions {
  values?: boolean;
}

/** The namespace the flags name; its type is left to the daemon, which takes it from the sysctl's name. */
function sysctlRef(options: FileTargetOptions): NamespaceRef {
  return create(NamespaceRefSchema, { source: fileTargets("namespace").required(options) });
}

/** `lxnsctl sysctl [target] NAME[=VALUE]`: read or set (as sysctl -w) a sysctl of the target's namespace of the name's type. */
export function registerSysctl(program: Command, ctx: CliContext): void {
  addFileTargetOptions(
    program
      .command("sysctl")
      .description("print a sysctl of a namespace (net.*: its network namespace; kernel.hostname, kernel.domainname: uts; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*: ipc; user.*: user), or set it as sysctl -w with NAME=VALUE")
      .argument("<name[=value]>", "dotted (net.ipv4.ip_forward) or slashed (net/ipv4/ip_forward)"),
    "namespace",
  )
    .addOption(new Option("-n, --values", "print the value only"))
    .addHelpText("after", "\nExamples:\n  lxnsctl sysctl -t 1234 net.ipv4.ip_forward\n  lxnsctl sysctl -t 1234 net.core.somaxconn=4096\n  lxnsctl sysctl --handle h-abc kernel.hostname=box\n  lxnsctl sysctl --pod shop/web --container-name app net.core.somaxconn")
    .action(async (arg: string, options: SysctlOptions, self: Command) => {
      const eq = arg.indexOf("=");
      const name = (eq < 0 ? arg : arg.slice(0, eq)).trim();
      const line = (value: string) => (options.values ? `${value}\n` : `${name} = ${value}\n`);
      const client = ctx.connect(self);
      if (eq < 0) {
        const response = await client.getSysctl({ ref: sysctlRef(options), name }, ctx.callOptions(self));
        ctx.print(self, GetSysctlResponseSchema, response, (r) => line(r.value));
      } else {
        const response = await client.setSysctl({ ref: sysctlRef(options), name, value: arg.slice(eq + 1) }, ctx.callOptions(self));
        ctx.print(self, SetSysctlResponseSchema, response, (r) => line(r.value));
      }
    });
}
