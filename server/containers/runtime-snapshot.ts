import type { RuntimeContainer, RuntimeNames, RuntimeSandbox } from "./runtime-names";

/** What the runtime said at one moment, indexed for lookups. */
export interface RuntimeView {
  /** When it was asked (Date.now()). */
  at: number;
  sandboxes: RuntimeSandbox[];
  containers: RuntimeContainer[];
}

/** Those that run first, otherwise in the runtime's order (CRI's lists carry no order of their own). */
function preferRunning<T extends { state: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => Number(b.state === "running") - Number(a.state === "running"));
}

/**
 * The runtime's names of pods and containers, asked for at most once per
 * `maxAgeMs` (callers meanwhile share one pair of List calls), so a burst of
 * requests that name containers costs the runtime two calls. A failed ask
 * (RuntimeUnavailable) is not kept: the next caller asks again.
 */
export class RuntimeSnapshot {
  private view?: RuntimeView;
  private pending?: Promise<RuntimeView>;

  constructor(
    readonly names: RuntimeNames,
    private readonly maxAgeMs = 1000,
  ) {}

  /** The current view, asked for again when older than maxAgeMs (or `fresherThanMs`, if given, when smaller). */
  async current(fresherThanMs = this.maxAgeMs): Promise<RuntimeView> {
    const age = this.view ? Date.now() - this.view.at : Infinity;
    if (this.view && age <= Math.min(fresherThanMs, this.maxAgeMs)) return this.view;
    return this.refresh();
  }

  /** Asks the runtime now (one ask at a time: callers meanwhile share it). */
  refresh(): Promise<RuntimeView> {
    this.pending ??= this.ask().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async ask(): Promise<RuntimeView> {
    const at = Date.now();
    const [sandboxes, containers] = await Promise.all([this.names.sandboxes(), this.names.containers()]);
    this.view = { at, sandboxes, containers };
    return this.view;
  }
}

/** The containers and sandboxes whose id starts with `prefix` (lower-case hex), as containers first. */
export function byIdPrefix(view: RuntimeView, prefix: string): Array<{ id: string; sandbox: boolean; state: string }> {
  const containers = view.containers.filter((item) => item.id.startsWith(prefix)).map((item) => ({ id: item.id, sandbox: false, state: item.state }));
  const sandboxes = view.sandboxes.filter((item) => item.id.startsWith(prefix)).map((item) => ({ id: item.id, sandbox: true, state: item.state }));
  return [...containers, ...sandboxes];
}

/** The sandboxes of a pod named by uid, or by namespace and name (a uid and a name must both match), running first. */
export function podSandboxes(view: RuntimeView, pod: { uid: string; namespace: string; name: string }): RuntimeSandbox[] {
  const uid = pod.uid.toLowerCase();
  const matching = view.sandboxes.filter(
    (sandbox) =>
      (uid === "" || sandbox.uid.toLowerCase() === uid) && (pod.namespace === "" || sandbox.namespace === pod.namespace) && (pod.name === "" || sandbox.name === pod.name),
  );
  return preferRunning(matching);
}

/** The containers of `sandboxId` (named `name`, if given), running first. */
export function containersOf(view: RuntimeView, sandboxId: string, name = ""): RuntimeContainer[] {
  return preferRunning(view.containers.filter((container) => container.sandboxId === sandboxId && (name === "" || container.name === name)));
}

/** The sandbox `id` names, if the runtime knows it. */
export function sandboxById(view: RuntimeView, id: string): RuntimeSandbox | undefined {
  return view.sandboxes.find((sandbox) => sandbox.id === id);
}

/** The container `id` names, if the runtime knows it. */
export function containerById(view: RuntimeView, id: string): RuntimeContainer | undefined {
  return view.containers.find((container) => container.id === id);
}
