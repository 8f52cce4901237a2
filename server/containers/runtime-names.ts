/** What a container runtime (CRI) says about the node's pods and containers; see server/containers/cri-runtime.ts. */
export type RuntimeState = "created" | "running" | "exited" | "unknown";

/** A pod sandbox as the runtime names it. */
export interface RuntimeSandbox {
  id: string;
  uid: string;
  namespace: string;
  name: string;
  state: RuntimeState;
  labels: Record<string, string>;
}

/** A container as the runtime names it; pid only while it runs. */
export interface RuntimeContainer {
  id: string;
  name: string;
  sandboxId: string;
  state: RuntimeState;
  labels: Record<string, string>;
  pid?: number;
}

/** A runtime the daemon can ask for names; rejects with RuntimeUnavailable when its endpoint cannot be reached. */
export interface RuntimeNames {
  readonly runtime: string; // e.g. "containerd"
  readonly endpoint: string; // e.g. "unix:///run/containerd/containerd.sock"
  sandboxes(): Promise<RuntimeSandbox[]>;
  containers(): Promise<RuntimeContainer[]>;
  /** The pid of a running container or sandbox, from its verbose status; undefined when not running. */
  pidOf(id: string, sandbox: boolean): Promise<number | undefined>;
}

/** The runtime's endpoint could not be reached. */
export class RuntimeUnavailable extends Error {
  constructor(readonly endpoint: string, cause?: unknown) {
    super(`container runtime at ${endpoint} is unreachable`, { cause });
    this.name = "RuntimeUnavailable";
  }
}
