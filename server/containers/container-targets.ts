import { status } from "@grpc/grpc-js";
import type { ContainerRef } from "../../api/gen/lxnsd/v1/types_pb";
import { RpcError } from "../errors";
import { whilePinned } from "../namespaces/process-pin";
import type { ContainerIndex, IndexedContainer } from "./container-index";
import { confirmInContainer, containerNotFound, firstStarted, initOf } from "./container-process";

/** A container chosen for a reference, and the process that stands for it. */
export interface ChosenContainer {
  container: IndexedContainer;
  /** Its init (a pod's: its sandbox's init); pin it, then confirm(). */
  pid: number;
  /** Whether it was chosen as its pod's sandbox. */
  sandbox: boolean;
}

/**
 * Turns a ContainerRef into a process: the container's init, or a pod's
 * sandbox's. What is chosen is only a pid: the caller pins it with a pidfd,
 * opens what it needs, then confirm()s it is still in that container.
 */
export class ContainerTargets {
  /** The index holds the CRI runtime's names too, when it was given one (ContainerIndexOptions.runtime). */
  constructor(readonly index: ContainerIndex) {}

  /** Readies the index for the container and pod references in a request (see ContainerIndex.prepare). */
  prepare(message: unknown): Promise<void> {
    return this.index.prepare(message);
  }

  /**
   * The container and process `ref` names: INVALID_ARGUMENT for a bad or
   * ambiguous name, NOT_FOUND for none, FAILED_PRECONDITION
   * (CONTAINER_NOT_RUNNING) for a container without processes.
   */
  choose(ref: ContainerRef, field: string): ChosenContainer {
    if (ref.selector.case !== "pod") {
      const container = this.index.find(ref, field);
      return { container, pid: runningInit(container), sandbox: false };
    }
    const pod = ref.selector.value;
    const containers = this.index.podContainers(pod, `${field}.pod`);
    const what = describePod(pod.uid, pod.namespace, pod.name);
    if (pod.containerName !== "") {
      if (containers.length === 0) throw containerNotFound(`${field}.pod: ${what} has no container named ${pod.containerName}`);
      const running = firstStarted(containers);
      if (!running) throw notRunning(`container ${pod.containerName} of ${what}`);
      return { container: running.container, pid: running.init.pid, sandbox: false };
    }
    if (containers.length === 0) throw containerNotFound(`${field}.pod: no pod ${what} on this node`);
    // The sandbox the runtime names, else (from cgroups alone) the pod's container started first.
    const named = containers.filter((container) => container.sandbox === true);
    const sandbox = firstStarted(named.length > 0 ? named : containers);
    if (!sandbox) throw notRunning(`the sandbox of ${what}`);
    return { container: sandbox.container, pid: sandbox.init.pid, sandbox: true };
  }

  /**
   * `body(pid)` for the process `ref` names, run while it is pinned by a
   * pidfd and confirmed after: alive and still in the container's cgroup.
   */
  whileChosen<T>(ref: ContainerRef, field: string, body: (pid: number, chosen: ChosenContainer) => T, undo: (value: T) => void = () => {}): T {
    const chosen = this.choose(ref, field);
    return whilePinned(
      chosen.pid,
      () => {
        const value = body(chosen.pid, chosen);
        try {
          this.confirm(chosen);
        } catch (err) {
          undo(value);
          throw err;
        }
        return value;
      },
      undo,
    );
  }

  /** NOT_FOUND unless the pinned process `pid` is still in `container`'s cgroup. */
  confirm(chosen: ChosenContainer): void {
    confirmInContainer(chosen.pid, chosen.container, this.index.options.line);
  }
}

/** "pod default/web (uid …)" or "pod uid …". */
export function describePod(uid: string, namespace: string, name: string): string {
  if (namespace !== "" || name !== "") return `pod ${namespace}/${name}${uid ? ` (uid ${uid})` : ""}`;
  return `pod uid ${uid}`;
}

function runningInit(container: IndexedContainer): number {
  const init = initOf(container);
  if (!init) throw notRunning(`container ${container.id.slice(0, 12)}`);
  return init.pid;
}

function notRunning(what: string): RpcError {
  return new RpcError(status.FAILED_PRECONDITION, `${what} is not running`, "CONTAINER_NOT_RUNNING");
}
