import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { methodDefinition } from "../../api/method-definitions";
import { ContainerState, PodSandboxState, RuntimeService } from "./cri-gen/runtime/v1/api_pb";
import { RuntimeUnavailable } from "./runtime-names";
import type { RuntimeContainer, RuntimeNames, RuntimeSandbox, RuntimeState } from "./runtime-names";

/** How long one CRI call may take before the runtime counts as unreachable, unless told otherwise. */
export const DEFAULT_CRI_CALL_TIMEOUT_MS = 5000;

/** Options of a {@link CriRuntime}. */
export interface CriRuntimeOptions {
  /** The deadline of each call, in ms (default {@link DEFAULT_CRI_CALL_TIMEOUT_MS}). */
  callTimeoutMs?: number;
  /** The runtime's name in answers (default: guessed from the endpoint's path, see {@link runtimeNameOf}). */
  runtime?: string;
}

/** A CRI answer that is neither data nor "unreachable": the runtime refused or failed the call. */
export class RuntimeCallFailed extends Error {
  constructor(
    readonly endpoint: string,
    readonly method: string,
    readonly code: status,
    details: string,
  ) {
    super(`container runtime at ${endpoint} answered ${method} with ${status[code] ?? code}: ${details}`);
    this.name = "RuntimeCallFailed";
  }
}

/** The runtime a CRI socket belongs to, by its path: "containerd", "cri-o", "docker" (cri-dockerd), else "cri". */
export function runtimeNameOf(endpoint: string): string {
  if (/crio/.test(endpoint)) return "cri-o";
  if (/containerd/.test(endpoint)) return "containerd";
  if (/docker/.test(endpoint)) return "docker";
  return "cri";
}

function containerState(state: ContainerState): RuntimeState {
  switch (state) {
    case ContainerState.CONTAINER_CREATED:
      return "created";
    case ContainerState.CONTAINER_RUNNING:
      return "running";
    case ContainerState.CONTAINER_EXITED:
      return "exited";
    default:
      return "unknown";
  }
}

/** A ready sandbox runs; a not-ready one has had its processes stopped (StopPodSandbox) or lost them. */
function sandboxState(state: PodSandboxState): RuntimeState {
  switch (state) {
    case PodSandboxState.SANDBOX_READY:
      return "running";
    case PodSandboxState.SANDBOX_NOTREADY:
      return "exited";
    default:
      return "unknown";
  }
}

/**
 * The pid in a verbose status's `info["info"]`, a JSON object both containerd
 * and CRI-O fill with (among much else) `"pid"`; undefined when absent or not
 * a positive integer (0 for a container that never started).
 */
export function pidOfVerboseInfo(info: { [key: string]: string }): number | undefined {
  const text = info["info"];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const pid = (parsed as { pid?: unknown } | null)?.pid;
  return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * A CRI runtime (runtime.v1.RuntimeService over grpc-js) asked for the names
 * of the node's pods and containers. Only reads: the generated service it uses
 * (cri-gen) has no method that changes anything. Every call has a deadline;
 * an endpoint that cannot be reached or does not answer in time rejects with
 * RuntimeUnavailable naming it, without waiting for a reconnect (no
 * wait-for-ready), so a caller never waits on a dead runtime longer than one
 * deadline.
 */
export class CriRuntime implements RuntimeNames {
  readonly runtime: string;
  private readonly client: Client;
  private readonly callTimeoutMs: number;

  /** `endpoint`: `unix:///PATH` (grpc-js also takes `unix:PATH`). Connects lazily, at the first call. */
  constructor(
    readonly endpoint: string,
    options: CriRuntimeOptions = {},
  ) {
    this.runtime = options.runtime ?? runtimeNameOf(endpoint);
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CRI_CALL_TIMEOUT_MS;
    this.client = new Client(endpoint, credentials.createInsecure(), {
      // kubelet's own limit: a node with many containers answers ListContainers with more than grpc's default 4 MiB.
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      // After the runtime restarts, calls fail fast until the channel reconnects: keep that short (default up to 120 s).
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
  }

  async sandboxes(): Promise<RuntimeSandbox[]> {
    const { items } = await this.call(RuntimeService.method.listPodSandbox, {});
    return items.map((item) => ({
      id: item.id,
      uid: item.metadata?.uid ?? "",
      namespace: item.metadata?.namespace ?? "",
      name: item.metadata?.name ?? "",
      state: sandboxState(item.state),
      labels: { ...item.labels },
    }));
  }

  /** Every container the runtime knows, in every state; no pid (that takes a status call each: {@link pidOf}). */
  async containers(): Promise<RuntimeContainer[]> {
    const { containers } = await this.call(RuntimeService.method.listContainers, {});
    return containers.map((item) => ({
      id: item.id,
      name: item.metadata?.name ?? "",
      sandboxId: item.podSandboxId,
      state: containerState(item.state),
      labels: { ...item.labels },
    }));
  }

  /** The pid of a running container (a ready sandbox), from its verbose status; undefined when it is not running or not known. */
  async pidOf(id: string, sandbox: boolean): Promise<number | undefined> {
    try {
      if (sandbox) {
        const answer = await this.call(RuntimeService.method.podSandboxStatus, { podSandboxId: id, verbose: true });
        if (answer.status?.state !== PodSandboxState.SANDBOX_READY) return undefined;
        return pidOfVerboseInfo(answer.info);
      }
      const answer = await this.call(RuntimeService.method.containerStatus, { containerId: id, verbose: true });
      if (answer.status?.state !== ContainerState.CONTAINER_RUNNING) return undefined;
      return pidOfVerboseInfo(answer.info);
    } catch (err) {
      if (err instanceof RuntimeCallFailed && err.code === status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** Closes the connection; later calls reject. */
  close(): void {
    this.client.close();
  }

  private call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, request: MessageInitShape<I>): Promise<MessageShape<O>> {
    const definition = methodDefinition(method);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize as (bytes: Buffer) => MessageShape<O>,
        request,
        new Metadata(),
        { deadline: Date.now() + this.callTimeoutMs },
        (err: ServiceError | null, answer?: MessageShape<O>) => {
          if (err) reject(this.failure(method.name, err));
          else resolve(answer as MessageShape<O>);
        },
      );
    });
  }

  private failure(method: string, err: ServiceError): Error {
    if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) return new RuntimeUnavailable(this.endpoint, err);
    return new RuntimeCallFailed(this.endpoint, method, err.code, err.details);
  }
}
