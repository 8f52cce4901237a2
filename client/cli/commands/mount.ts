import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { BindMountResponseSchema } from "../../../api/gen/lxnsd/v1/mount_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import { CONTAINER_FLAGS, addContainerOptions, containerRefOf } from "../container-options";
import type { ContainerFlags } from "../container-options";
import { parsePid } from "../parse-values";
import { UsageError } from "../usage-error";

interface BindOptions extends ContainerFlags {
  target?: number;
  handle?: string;
  path?: string;
  recursive?: boolean;
  readOnly?: boolean;
  mkdir?: boolean;
}

const TARGETS = ["target", "handle", "path"] as const;

/** The mount namespace the flags name: -t PID, --handle ID or --path FILE. */
function mountRef(options: BindOptions): NamespaceRef {
  const type = NamespaceType.MNT;
  if (options.target !== undefined) return create(NamespaceRefSchema, { type, source: { case: "pid", value: options.target } });
  if (options.handle !== undefined) return create(NamespaceRefSchema, { type, source: { case: "handle", value: options.handle } });
  if (options.path !== undefined) return create(NamespaceRefSchema, { type, source: { case: "path", value: options.path } });
  const container = containerRefOf(options);
  if (container) return create(NamespaceRefSchema, { type, source: { case: "container", value: container } });
  throw new UsageError("a target mount namespace is required: -t PID, --handle ID, --path FILE, --container ID, --pod NAMESPACE/NAME or --pod-uid UID");
}

/** `lxnsctl mount bind SRC DEST`: bind-mount a host path into another mount namespace (BindMount). */
export function registerMount(program: Command, ctx: CliContext): void {
  const mount = program.command("mount").description("mounts in other mount namespaces");
  const others = (name: string) => [...TARGETS.filter((other) => other !== name), ...CONTAINER_FLAGS];
  const bind = mount
    .command("bind")
    .description("bind-mount SRC (a path of the daemon's) at DEST inside the target's mount namespace")
    .argument("<src>", "an absolute path in the daemon's mount namespace")
    .argument("<dest>", "an existing absolute path in the target's mount namespace")
    .addOption(new Option("-t, --target <pid>", "the mount namespace of process PID").argParser(parsePid).conflicts(others("target")))
    .addOption(new Option("--handle <id>", "a mount namespace handle from open or unshare").conflicts(others("handle")))
    .addOption(new Option("--path <file>", "a mount namespace file (/proc/PID/ns/mnt or a pin)").conflicts(others("path")));
  addContainerOptions(bind, TARGETS)
    .addOption(new Option("-r, --recursive", "also the mounts below SRC (as mount --rbind)"))
    .addOption(new Option("--read-only", "make the new mount read-only"))
    .addOption(new Option("--mkdir", "create DEST when missing (a directory, or an empty file for a file SRC; its parent must exist)"))
    .addHelpText("after", "\nExamples:\n  lxnsctl mount bind /srv/data -t 1234 /mnt/data --read-only\n  lxnsctl mount bind /srv --handle h-abc /srv --recursive")
    .action(async (source: string, targetPath: string, options: BindOptions, self: Command) => {
      const request = { source, target: mountRef(options), targetPath, recursive: options.recursive === true, readOnly: options.readOnly === true, createTargetPath: options.mkdir === true };
      const response = await ctx.connect(self).bindMount(request, ctx.callOptions(self));
      ctx.print(self, BindMountResponseSchema, response, () => "");
    });
}
