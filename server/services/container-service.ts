import { status } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ContainerService as ContainerServiceDesc } from "../../api/gen/lxnsd/v1/container_service_pb";
import type { ContainerSchema, GetContainerRequest, ListContainersRequest } from "../../api/gen/lxnsd/v1/container_service_pb";
import { NamespaceRefSchema } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceInfo } from "../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import type { Caller } from "../auth/caller";
import { checkProcess, processRules } from "../auth/target-guard";
import type { IndexedContainer } from "../containers/container-index";
import { firstStarted, initOf } from "../containers/container-process";
import type { ContainerTargets } from "../containers/container-targets";
import { RpcError, invalidArgument } from "../errors";
import type { NamespaceResolver } from "../namespaces/resolver";
import { addService } from "../rpc/add-service";
import type { RpcHooks } from "../rpc/add-service";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";

type ContainerInit = MessageInitShape<typeof ContainerSchema>;

/** What the container service needs from the daemon. */
export interface ContainerServiceDeps {
  resolver: NamespaceResolver;
  /** Undefined: no cgroup hierarchy names containers here (every call is FAILED_PRECONDITION). */
  containers?: ContainerTargets;
}

/**
 * lxnsd.v1.ContainerService: the node's containers as the index finds
 * them in cgroups. A caller with target rules sees only the containers
 * whose process it may touch.
 */
export class ContainerService implements ServiceImpl<typeof ContainerServiceDesc> {
  constructor(private readonly deps: ContainerServiceDeps) {}

  /** Registers this service on `server`. */
  addTo(server: Server, hooks: RpcHooks): void {
    addService(server, ContainerServiceDesc, this as unknown as Record<string, unknown>, hooks);
  }

  async *listContainers(request: ListContainersRequest, context: CallContext): AsyncGenerator<{ container: ContainerInit }> {
    const targets = this.targets();
    await targets.index.refresh();
    const all = request.pod ? runningOrNone(() => targets.index.podContainers(request.pod!, "pod")) : targets.index.containers();
    const sandboxes = sandboxesOf(targets, all);
    for (const container of all) {
      if (context.signal.aborted) return;
      const described = this.describe(container, sandboxes.has(container.id), context.caller);
      if (described) yield { container: described };
    }
    // What the runtime lists that does not run (created, exited): pid 0, no cgroup, no namespaces. Container has no
    // state field; a caller with target rules sees none of them (no process to check), as with any container not running.
    if (processRules(context.caller)) return;
    for (const stopped of targets.index.notRunning(request.pod)) {
      if (context.signal.aborted) return;
      const pod = stopped.podUid === "" ? undefined : targets.index.pod(stopped.podUid);
      yield {
        container: {
          id: stopped.id,
          name: stopped.name,
          ...(stopped.podUid !== "" ? { pod: { uid: stopped.podUid, namespace: pod?.namespace ?? "", name: pod?.name ?? "" } } : {}),
          pid: 0,
          cgroup: "",
          runtime: targets.index.options.runtime?.runtime ?? "",
          sandbox: stopped.sandbox,
          namespaces: [],
          labels: stopped.labels,
        },
      };
    }
  }

  async getContainer(request: GetContainerRequest, context: CallContext): Promise<{ container: ContainerInit }> {
    if (!request.ref) throw invalidArgument("ref: a container reference is required");
    const targets = this.targets();
    // A pod names its sandbox or one container, which must run; an id or cgroup names a container, running or not.
    const container = request.ref.selector.case === "pod" ? targets.choose(request.ref, "ref").container : targets.index.find(request.ref, "ref");
    const sandbox = sandboxesOf(targets, [container]).has(container.id);
    const described = this.describe(container, sandbox, context.caller, true);
    if (!described) throw new RpcError(status.NOT_FOUND, `ref: container ${container.id.slice(0, 12)} is gone`, "CONTAINER_NOT_FOUND");
    return { container: described };
  }

  private targets(): ContainerTargets {
    if (!this.deps.containers) throw new RpcError(status.FAILED_PRECONDITION, "this daemon finds no containers (no cgroup hierarchy to read)", "CONTAINERS_UNAVAILABLE");
    return this.deps.containers;
  }

  /**
   * The Container message of `container`, its namespaces read from its
   * init; undefined when the caller may not touch it (or, with `strict`,
   * PERMISSION_DENIED), or it is gone.
   */
  private describe(container: IndexedContainer, sandbox: boolean, caller: Caller, strict = false): ContainerInit | undefined {
    const targets = this.targets();
    let pid = 0;
    try {
      pid = initOf(container)?.pid ?? 0;
    } catch {
      return undefined; // gone
    }
    try {
      checkProcess(caller, pid === 0 ? undefined : pid, `container ${container.id.slice(0, 12)}`);
    } catch (err) {
      if (strict) throw err;
      return undefined;
    }
    const namespaces: NamespaceInfo[] = [];
    if (pid !== 0) {
      for (const kind of NAMESPACE_KINDS) {
        try {
          const ns = this.deps.resolver.resolve(create(NamespaceRefSchema, { type: kind.type, source: { case: "pid", value: pid } }), "ref", caller);
          try {
            namespaces.push(ns.describe());
          } finally {
            ns.release();
          }
        } catch {
          // gone meanwhile, or a namespace the caller may not see
        }
      }
      try {
        targets.confirm({ container, pid, sandbox });
      } catch {
        pid = 0; // it left (exited or restarted) while read: none of that is reported as its
        namespaces.length = 0;
      }
    }
    const pod = container.podUid === undefined ? undefined : targets.index.pod(container.podUid);
    return {
      id: container.id,
      name: container.name ?? "",
      ...(container.podUid !== undefined ? { pod: { uid: container.podUid, namespace: pod?.namespace ?? "", name: pod?.name ?? "" } } : {}),
      pid,
      cgroup: container.cgroup,
      runtime: container.runtime,
      sandbox: container.sandbox ?? sandbox,
      namespaces,
      labels: container.labels ?? {},
    };
  }
}

/** The running containers `list` finds; none when the one it names does not run (FAILED_PRECONDITION: the runtime lists it, not running). */
function runningOrNone(list: () => IndexedContainer[]): IndexedContainer[] {
  try {
    return list();
  } catch (err) {
    if (err instanceof RpcError && err.code === status.FAILED_PRECONDITION) return [];
    throw err;
  }
}

/** The ids of the pods' sandboxes among `containers`, without a runtime: each pod's container started first. */
function sandboxesOf(targets: ContainerTargets, containers: readonly IndexedContainer[]): Set<string> {
  const pods = new Map<string, IndexedContainer[]>();
  for (const container of containers) {
    if (container.podUid === undefined) continue;
    pods.set(container.podUid, [...(pods.get(container.podUid) ?? []), container]);
  }
  const ids = new Set<string>();
  for (const uid of pods.keys()) {
    const first = firstStarted(targets.index.containers().filter((container) => container.podUid === uid));
    if (first) ids.add(first.container.id);
  }
  return ids;
}
