import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { BindMountResponseSchema } from "../../../api/gen/lxnsd/v1/mount_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import type { ContainerFlags } from "../container-options";
import { TargetOptions } from "../target-options";

interface BindOptions extends ContainerFlags {
  target?: number;
  handle?: string;
  path?: string;
  recursive?: boolean;
  readOnly?: boolean;
  mkdir?: boolean;
}

const TARGETS = new TargetOptions({
  pid: "the mount namespace of process PID",
  handle: "a mount namespace handle from open or unshare",
  path: "a mount namespace file (/proc/PID/ns/mnt or a pin)",
});

/** The mount namespace the flags name: -t PID, --handle ID, --path FILE, or a container or pod. */
function mountRef(options: BindOptions): NamespaceRef {
  return create(NamespaceRefSchema, { type: NamespaceType.MNT, source: TARGETS.required(options, "a target mount namespace") });
}

/** `lxnsctl mount bind SRC DEST`: bind-mount a host path into another mount namespace (BindMount). */
export function registerMount(program: Command, ctx: CliContext): void {
  const mount = program
    .command("mount")
    .description("mounts in other mount namespaces")
    .addHelpText("after", "\nExamples:\n  lxnsctl mount bind -t 1234 /srv/data /data\n  lxnsctl mount bind --container 3f2a9c81d4e5 /srv/data /data");
  const bind = mount
    .command("bind")
    .description("bind-mount SRC (a path of the daemon's) at DEST inside the target's mount namespace")
    .argument("<src>", "an absolute path in the daemon's mount namespace")
    .argument("<dest>", "an existing absolute path in the target's mount namespace");
  TARGETS.addTo(bind)
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
