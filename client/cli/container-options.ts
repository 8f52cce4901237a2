import { create } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { ContainerRefSchema } from "../../api/gen/lxnsd/v1/types_pb";
import type { ContainerRef } from "../../api/gen/lxnsd/v1/types_pb";
import { UsageError } from "./usage-error";

/** The parsed flags that name a container or pod instead of a pid. */
export interface ContainerFlags {
  container?: string;
  pod?: string;
  podUid?: string;
  containerName?: string;
}

/** The attribute names of the container flags, for commander's conflicts(). */
export const CONTAINER_FLAGS = ["container", "pod", "podUid", "containerName"] as const;

/**
 * Adds `--container ID`, `--pod NAMESPACE/NAME`, `--pod-uid UID` and
 * `--container-name NAME` to `command`, each conflicting with `others` (the
 * command's other target flags).
 */
export function addContainerOptions(command: Command, others: readonly string[]): Command {
  return command
    .addOption(new Option("--container <id>", "the process of a container: its id, a prefix of 12+ hex digits, or containerd://ID, cri-o://ID, docker://ID").conflicts([...others, "pod", "podUid", "containerName"]))
    .addOption(new Option("--pod <namespace/name>", "the sandbox of a pod (with --container-name: one of its containers)").conflicts([...others, "podUid"]))
    .addOption(new Option("--pod-uid <uid>", "the sandbox of the pod with this metadata.uid (with --container-name: one of its containers)").conflicts([...others]))
    .addOption(new Option("--container-name <name>", "with --pod or --pod-uid: that pod's container of this name").conflicts([...others]));
}

/** The ContainerRef the flags name; undefined when none is given. Throws UsageError for --container-name without a pod or a bad --pod. */
export function containerRefOf(flags: ContainerFlags): ContainerRef | undefined {
  if (flags.container !== undefined) return create(ContainerRefSchema, { selector: { case: "containerId", value: flags.container } });
  if (flags.pod === undefined && flags.podUid === undefined) {
    if (flags.containerName !== undefined) throw new UsageError("--container-name needs --pod NAMESPACE/NAME or --pod-uid UID");
    return undefined;
  }
  let namespace = "";
  let name = "";
  if (flags.pod !== undefined) {
    const parts = flags.pod.split("/");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") throw new UsageError(`--pod: expected NAMESPACE/NAME, got ${JSON.stringify(flags.pod)}`);
    [namespace, name] = parts;
  }
  return create(ContainerRefSchema, { selector: { case: "pod", value: { uid: flags.podUid ?? "", namespace, name, containerName: flags.containerName ?? "" } } });
}
