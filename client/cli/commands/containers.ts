import { toJson } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { ContainerSchema } from "../../../api/gen/lxnsd/v1/container_service_pb";
import type { Container } from "../../../api/gen/lxnsd/v1/container_service_pb";
import type { CliContext } from "../cli-context";
import { containerRefOf } from "../container-options";
import { formatTable } from "../format";

/** The parsed flags of `ps`. */
interface PsOptions {
  pod?: string;
  podUid?: string;
}

/** The cells of one container: CONTAINER NAME POD NAMESPACE PID RUNTIME ("-" for what is unknown). */
export function containerCells(container: Container): string[] {
  const dash = (text: string | undefined) => (text ? text : "-");
  const name = container.sandbox && container.name === "" ? "(sandbox)" : container.name;
  const pod = container.pod?.name || container.pod?.uid;
  return [container.id.slice(0, 12), dash(name), dash(pod), dash(container.pod?.namespace), container.pid === 0 ? "-" : String(container.pid), container.runtime];
}

/** `lxnsctl ps`: the node's containers (ContainerService.ListContainers). */
export function registerPs(program: Command, ctx: CliContext): void {
  program
    .command("ps")
    .description("list the node's containers: CONTAINER NAME POD NAMESPACE PID RUNTIME")
    .addOption(new Option("--pod <namespace/name>", "only this pod's containers").conflicts("podUid"))
    .addOption(new Option("--pod-uid <uid>", "only the containers of the pod with this metadata.uid"))
    .addHelpText("after", "\nExamples:\n  lxnsctl ps\n  lxnsctl ps --pod shop/web --json")
    .action(async (options: PsOptions, self: Command) => {
      const ref = containerRefOf(options);
      const request = ref?.selector.case === "pod" ? { pod: ref.selector.value } : {};
      const containers: Container[] = [];
      for await (const response of ctx.connect(self).listContainers(request, ctx.callOptions(self))) containers.push(response.container!);
      if (ctx.globals(self).json) {
        ctx.io.stdout(`${JSON.stringify({ containers: containers.map((container) => toJson(ContainerSchema, container)) }, null, 2)}\n`);
      } else {
        ctx.io.stdout(formatTable(["CONTAINER", "NAME", "POD", "NAMESPACE", "PID", "RUNTIME"], containers.map(containerCells)));
      }
    });
}
