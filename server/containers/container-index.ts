import { existsSync, readFileSync } from "node:fs";
import { opendir, readFile, readdir } from "node:fs/promises";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import type { ContainerRef, PodRef } from "../../api/gen/lxnsd/v1/types_pb";
import { RpcError, invalidArgument } from "../errors";
import { cgroupComponents, cgroupOfLine, containerAbove, containerOfCgroup, lineOfHost, parseContainerId } from "./cgroup-names";
import type { CgroupLine, RuntimeKind } from "./cgroup-names";
import { containerLogDirOf, readContainerNames, readPodNames } from "./pod-names";
import { RuntimeUnavailable } from "./runtime-names";
import type { RuntimeContainer, RuntimeNames, RuntimeSandbox } from "./runtime-names";
import type { ContainerName, PodName } from "./pod-names";
import { initPidOf } from "./container-process";
import { kubeletMountsOfSelf, readMountName } from "./mount-names";
import type { KubeletMounts, MountName } from "./mount-names";

/** One container found in the cgroup tree. */
export interface IndexedContainer {
  id: string;
  runtime: RuntimeKind;
  /** Its cgroup, as the chosen line of /proc/PID/cgroup shows it. */
  cgroup: string;
  /** That cgroup's directory; "" when the container was found from its processes (its tree is not mounted here). */
  dir: string;
  /** Found from its processes: their pids at the last walk. */
  pids?: number[];
  /** What the CRI runtime says, when there is one: its labels, and whether it is a pod's sandbox. */
  labels?: Record<string, string>;
  sandbox?: boolean;
  podUid?: string;
  /** Its name in its pod, when kubelet's log links say it. */
  name?: string;
}

/** Where the index looks. */
export interface ContainerIndexOptions {
  /** The mount point of the hierarchy `line` names. */
  root: string;
  line: CgroupLine;
  /** kubelet's pod log directory (/var/log/pods); "" = none. */
  podLogDir: string;
  /** kubelet's container log links; default: `containers` beside podLogDir. */
  containerLogDir?: string;
  /** A snapshot older than this is refreshed before it answers, in ms (default 1000). */
  maxAgeMs?: number;
  /** The CRI runtime's names (undefined: from cgroups and kubelet's logs alone). */
  runtime?: RuntimeNames;
  /** Where kubelet's mounts come from, for names neither the runtime nor the logs give (default: as the daemon's own mounts say). */
  kubelet?: KubeletMounts;
}

/** A container or sandbox the runtime lists without a cgroup here (created, exited, or a stopped sandbox); a sandbox has no name. */
export interface StoppedContainer {
  id: string;
  name: string;
  podUid: string;
  sandbox: boolean;
  labels: Record<string, string>;
}

interface Snapshot {
  /** The runtime could not be reached at this walk: names only it knows are UNAVAILABLE. */
  runtimeDown?: RuntimeUnavailable;
  /** What the runtime lists that has no cgroup here: containers and sandboxes that exist but do not run. */
  stopped?: readonly StoppedContainer[];
  at: number;
  containers: IndexedContainer[];
  byId: Map<string, IndexedContainer>;
  pods: Map<string, PodName>;
  /** The pod uid of every container and sandbox the runtime lists, by id (for policy rules: only what the runtime says). */
  runtimePodUids: Map<string, string>;
}

const SHORTEST_PREFIX = 12;
/** Bounds of one walk of the cgroup tree. */
const MAX_DEPTH = 16;
const MAX_DIRS = 200_000;
/** How many containers' mounts are read at once. */
const MOUNT_READS_AT_ONCE = 32;

/**
 * The node's containers, found from cgroup directories (not from /proc):
 * a snapshot of the tree of the hierarchy that names cgroups on this host,
 * walked asynchronously (never blocking the event loop) and kept for a
 * short time. Lookups are synchronous on the current snapshot; prepare()
 * makes sure the snapshot is fresh enough for a request's names first.
 */
export class ContainerIndex {
  private snapshot: Snapshot = { at: 0, containers: [], byId: new Map(), pods: new Map(), runtimePodUids: new Map() };
  private pending?: Promise<void>;
  /** When the walk in flight began. */
  private pendingSince = 0;
  private readonly maxAgeMs: number;
  private readonly containerLogDir: string;
  private readonly kubelet: KubeletMounts;
  /** What kubelet's mounts said of each container read so far (null: nothing), by id; a container's mounts do not change. */
  private mountNames = new Map<string, MountName | null>();

  constructor(readonly options: ContainerIndexOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.containerLogDir = options.containerLogDir ?? containerLogDirOf(options.podLogDir);
    this.kubelet = options.kubelet ?? kubeletMountsOfSelf();
  }

  /** The index of this host: the `name=systemd` hierarchy on v1 and hybrid hosts, else cgroup v2. */
  static forHost(podLogDir: string, overrides: Partial<ContainerIndexOptions> = {}): ContainerIndex {
    const line = lineOfHost(readFileSync("/proc/self/cgroup", "utf8"));
    return new ContainerIndex({ root: hierarchyMount(line), line, podLogDir, ...overrides });
  }

  /** Walks the tree again (one walk at a time: callers meanwhile share it). */
  refresh(): Promise<void> {
    if (!this.pending) {
      this.pendingSince = Date.now();
      this.pending = this.walk().finally(() => (this.pending = undefined));
    }
    return this.pending;
  }

  /**
   * Makes the snapshot fresh enough for the container and pod references
   * in `message` (any depth): a walk that began after the request came is
   * awaited when a name is not in it (or there is none yet); one older than
   * maxAgeMs is walked again meanwhile, not awaited. A found entry may be
   * stale without harm: it only maps a name to a cgroup directory, whose
   * processes are read when the name is resolved (a removed cgroup is
   * NOT_FOUND then), and the chosen process is confirmed in it.
   */
  async prepare(message: unknown): Promise<void> {
    const arrived = Date.now();
    const refs = containerRefsIn(message);
    if (refs.length === 0) return;
    if (this.snapshot.at === 0) await this.refresh();
    else if (Date.now() - this.snapshot.at > this.maxAgeMs) this.refresh().catch(() => undefined); // its own walk catches what a removed directory throws
    // A name not found, not running or needing an unreachable runtime: a new walk, unless this one is that new.
    // A container whose cgroup has gone since the walk (stopped a moment ago): a new walk in any case.
    let gone = false;
    const missing = refs.some((ref) => {
      try {
        const found = ref.$typeName === "lxnsd.v1.PodRef" ? this.podContainers(ref, "pod") : [this.find(ref, "ref")];
        gone = found.some((container) => !existsSync(container.dir));
        return found.length === 0 || gone;
      } catch (err) {
        return err instanceof RpcError && err.code !== status.INVALID_ARGUMENT;
      }
    });
    if (gone || missing) await this.walkSince(arrived);
  }

  /**
   * Awaits a snapshot whose walk began at `since` or later: the walk in
   * flight if it began then, else a new one after it. A walk that began
   * before a request came may have missed a cgroup made just before it.
   * Walks run one at a time, each shared by every request waiting then.
   */
  private async walkSince(since: number): Promise<void> {
    while (this.snapshot.at < since) {
      if (this.pending && this.pendingSince >= since) await this.pending;
      else if (this.pending) await this.pending.catch(() => undefined);
      else await this.refresh();
    }
  }

  /** Awaits a walk when the snapshot is older than maxAgeMs (or there is none yet). */
  async fresh(): Promise<void> {
    if (Date.now() - this.snapshot.at > this.maxAgeMs) await this.walkSince(Date.now() - this.maxAgeMs);
  }

  /** The pod uid the CRI runtime gives the container or sandbox `id` (running or not); undefined without a runtime or when it does not list it. */
  runtimePodUid(id: string): string | undefined {
    return this.snapshot.runtimePodUids.get(id);
  }

  /**
   * What the runtime lists that does not run here (no cgroup): containers
   * created or exited, stopped sandboxes; with `pod`, only that pod's (by
   * uid, or namespace and name; with container_name only that one).
   */
  notRunning(pod?: PodRef): readonly StoppedContainer[] {
    const stopped = this.snapshot.stopped ?? [];
    if (!pod) return stopped;
    const uid = pod.uid !== "" ? pod.uid.toLowerCase() : ([...this.snapshot.pods.values()].find((known) => known.namespace === pod.namespace && known.name === pod.name)?.uid ?? "");
    if (uid === "") return [];
    return stopped.filter((known) => known.podUid === uid && (pod.containerName === "" || known.name === pod.containerName));
  }

  /** Every container of the current snapshot. */
  containers(): readonly IndexedContainer[] {
    return this.snapshot.containers;
  }

  /** The pod of `uid`, as kubelet's log directory names it. */
  pod(uid: string): PodName | undefined {
    return this.snapshot.pods.get(uid);
  }

  /** The container with exactly this id. */
  byId(id: string): IndexedContainer | undefined {
    return this.snapshot.byId.get(id);
  }

  /**
   * The container `ref` names by id or cgroup: INVALID_ARGUMENT for a bad
   * or too short id or one that matches several (naming up to 5),
   * NOT_FOUND for none. A pod reference is answered by podContainers.
   */
  find(ref: ContainerRef, field: string): IndexedContainer {
    const selector = ref.selector;
    switch (selector.case) {
      case "containerId":
        return this.findId(selector.value, `${field}.container_id`);
      case "cgroup": {
        const above = containerAbove(selector.value);
        const found = above && this.snapshot.byId.get(above.container.id);
        if (!found || !sameCgroup(found.cgroup, above.cgroup)) throw new RpcError(status.NOT_FOUND, `${field}.cgroup: no container has cgroup ${selector.value}`, "CONTAINER_NOT_FOUND");
        return found;
      }
      default:
        throw invalidArgument(`${field}: one of container_id, pod or cgroup is required`);
    }
  }

  /** The containers of the pod `pod` names by uid or by namespace and name (with container_name: only that one). */
  podContainers(pod: PodRef, field: string): IndexedContainer[] {
    let uid = pod.uid.toLowerCase();
    if (uid === "") {
      if (pod.namespace === "" || pod.name === "") throw invalidArgument(`${field}: uid, or namespace and name, is required`);
      uid = [...this.snapshot.pods.values()].find((known) => known.namespace === pod.namespace && known.name === pod.name)?.uid ?? "";
      if (uid === "") this.unlessRuntimeDown(`${field}: pod ${pod.namespace}/${pod.name}`);
      if (uid === "") return [];
    } else if (pod.namespace !== "" || pod.name !== "") {
      const known = this.snapshot.pods.get(uid);
      if (known && (known.namespace !== (pod.namespace || known.namespace) || known.name !== (pod.name || known.name))) return [];
    }
    const containers = this.snapshot.containers.filter((container) => container.podUid === uid);
    const named = pod.containerName === "" ? containers : containers.filter((container) => container.name === pod.containerName);
    if (named.length > 0) return named;
    this.unlessRuntimeDown(pod.containerName === "" ? `${field}: pod uid ${uid}` : `${field}.container_name: ${pod.containerName}`);
    // The runtime lists it (the pod's sandbox, or the container by that name) without a cgroup: it exists and does not run.
    const stopped = this.snapshot.stopped?.find((known) => known.podUid === uid && known.name === pod.containerName);
    if (stopped) {
      const what = pod.containerName === "" ? `the sandbox of pod uid ${uid}` : `container ${pod.containerName} of pod uid ${uid}`;
      throw new RpcError(status.FAILED_PRECONDITION, `${field}: ${what} is not running`, "CONTAINER_NOT_RUNNING");
    }
    return named;
  }

  /** UNAVAILABLE naming the endpoint when the runtime that would know `what` could not be reached at the last walk. */
  private unlessRuntimeDown(what: string): void {
    const down = this.snapshot.runtimeDown;
    if (down) throw new RpcError(status.UNAVAILABLE, `${what}: names need the container runtime at ${down.endpoint}, which is unreachable`, "RUNTIME_UNAVAILABLE", { endpoint: down.endpoint });
  }

  private findId(value: string, field: string): IndexedContainer {
    const parsed = parseContainerId(value);
    if (!parsed) throw invalidArgument(`${field}: ${JSON.stringify(value.slice(0, 80))} is not a container id (hex, optionally containerd://, cri-o:// or docker://)`);
    if (parsed.prefix.length < SHORTEST_PREFIX) throw invalidArgument(`${field}: a prefix of at least ${SHORTEST_PREFIX} hex digits is required, got ${parsed.prefix.length}`);
    const exact = this.snapshot.byId.get(parsed.prefix);
    if (exact) return exact;
    const matches = this.snapshot.containers.filter((container) => container.id.startsWith(parsed.prefix));
    if (matches.length === 1) return matches[0];
    if (matches.length === 0) {
      // The runtime knows it, but it has no cgroup: it exists and does not run.
      if (this.snapshot.stopped?.some((known) => known.id.startsWith(parsed.prefix))) {
        throw new RpcError(status.FAILED_PRECONDITION, `${field}: container ${value} is not running`, "CONTAINER_NOT_RUNNING");
      }
      throw new RpcError(status.NOT_FOUND, `${field}: no container ${value}`, "CONTAINER_NOT_FOUND");
    }
    const names = matches.slice(0, 5).map((container) => container.id.slice(0, 16));
    throw invalidArgument(`${field}: ${value} matches ${matches.length} containers: ${names.join(", ")}${matches.length > 5 ? ", …" : ""}`);
  }

  /**
   * The containers neither the runtime nor kubelet's logs named, named by
   * kubelet's mounts in their init's mountinfo (see mount-names.ts), each
   * container read once. A pod uid that contradicts the container's cgroup
   * path names nothing.
   */
  private async withMountNames(containers: IndexedContainer[]): Promise<IndexedContainer[]> {
    const known = new Map<string, MountName | null>();
    const nameOne = async (container: IndexedContainer): Promise<IndexedContainer> => {
      if (container.name !== undefined || container.sandbox === true) return container;
      let found = this.mountNames.get(container.id);
      if (found === undefined) {
        const pid = await initPidOf(container);
        found = pid === undefined ? undefined : await readMountName(pid, this.options.line, (cgroup) => sameCgroup(cgroup, container.cgroup), this.kubelet);
      }
      if (found === undefined) return container; // not running, or gone meanwhile: read again at the next walk
      known.set(container.id, found);
      if (found === null || (container.podUid !== undefined && container.podUid !== found.podUid)) return container;
      return { ...container, podUid: found.podUid, ...(found.name !== undefined ? { name: found.name } : {}) };
    };
    // A few at a time: each read holds a pidfd and a few files open.
    const named: IndexedContainer[] = [];
    for (let i = 0; i < containers.length; i += MOUNT_READS_AT_ONCE) named.push(...(await Promise.all(containers.slice(i, i + MOUNT_READS_AT_ONCE).map(nameOne))));
    this.mountNames = known;
    return named;
  }

  private async walk(): Promise<void> {
    const started = Date.now();
    const [tree, pods, names] = await Promise.all([walkTree(this.options.root), readPodNames(this.options.podLogDir), readContainerNames(this.containerLogDir)]);
    // A sidecar sees its pod's processes but only its own cgroup: there the containers come from /proc.
    const found = tree.length > 0 ? tree : await containersOfProcesses(this.options.line);
    let containers = found.map((container) => withName(container, names.get(container.id)));
    const runtime = this.options.runtime ? await runtimeNamesOf(this.options.runtime) : undefined;
    if (runtime && !(runtime instanceof RuntimeUnavailable)) containers = withRuntimeNames(containers, pods, runtime);
    const runtimeDown = runtime instanceof RuntimeUnavailable ? runtime : undefined;
    containers = await this.withMountNames(containers);
    const byId = new Map(containers.map((container) => [container.id, container]));
    const known = runtime && !(runtime instanceof RuntimeUnavailable) ? runtime : undefined;
    const stopped = known ? stoppedOf(known, byId) : [];
    this.snapshot = { at: started, containers, byId, pods, stopped, runtimePodUids: known ? podUidsOf(known) : new Map(), ...(runtimeDown ? { runtimeDown } : {}) };
  }
}

/**
 * Whether two cgroup paths name the same cgroup. A path seen from inside a
 * cgroup namespace (`/../../x/y`, as /proc/PID/cgroup shows cgroups outside
 * the reader's) names the cgroup whose path ends with `x/y`: a daemon in a
 * container of its own reads such paths, and walks the host's tree.
 */
export function sameCgroup(a: string, b: string): boolean {
  const [partsA, partsB] = [cgroupComponents(a), cgroupComponents(b)];
  const [escapesA, escapesB] = [a.split("/").includes(".."), b.split("/").includes("..")];
  if (!escapesA && !escapesB) return partsA.join("/") === partsB.join("/");
  const [shorter, longer] = partsA.length <= partsB.length ? [partsA, partsB] : [partsB, partsA];
  if (shorter.length === 0) return false;
  return longer.slice(longer.length - shorter.length).join("/") === shorter.join("/");
}

/** What the runtime names, or RuntimeUnavailable. */
async function runtimeNamesOf(runtime: RuntimeNames): Promise<{ sandboxes: RuntimeSandbox[]; containers: RuntimeContainer[] } | RuntimeUnavailable> {
  try {
    const [sandboxes, containers] = await Promise.all([runtime.sandboxes(), runtime.containers()]);
    return { sandboxes, containers };
  } catch (err) {
    return err instanceof RuntimeUnavailable ? err : new RuntimeUnavailable(runtime.endpoint, err);
  }
}

/** The pod uid of each container and sandbox the runtime lists, by id (lower-case, as cgroup paths give it). */
function podUidsOf(runtime: { sandboxes: RuntimeSandbox[]; containers: RuntimeContainer[] }): Map<string, string> {
  const uids = new Map(runtime.sandboxes.filter((sandbox) => sandbox.uid !== "").map((sandbox) => [sandbox.id, sandbox.uid.toLowerCase()]));
  for (const container of runtime.containers) {
    const uid = uids.get(container.sandboxId);
    if (uid) uids.set(container.id, uid);
  }
  return uids;
}

/** What the runtime lists that has no cgroup in `byId`, with its name and its pod's uid. */
function stoppedOf(runtime: { sandboxes: RuntimeSandbox[]; containers: RuntimeContainer[] }, byId: ReadonlyMap<string, IndexedContainer>): StoppedContainer[] {
  const uids = new Map(runtime.sandboxes.map((sandbox) => [sandbox.id, sandbox.uid.toLowerCase()]));
  return [
    ...runtime.sandboxes.map((sandbox) => ({ id: sandbox.id, name: "", podUid: sandbox.uid.toLowerCase(), sandbox: true, labels: sandbox.labels })),
    ...runtime.containers.map((container) => ({ id: container.id, name: container.name, podUid: uids.get(container.sandboxId) ?? "", sandbox: false, labels: container.labels })),
  ].filter((known) => !byId.has(known.id));
}

/**
 * The cgroups' containers with the runtime's names: a container's name,
 * labels and pod (its sandbox's uid), a sandbox marked as such; the
 * runtime's pods join `pods` (by uid). Cgroups stay the truth of which
 * containers exist and run: the runtime only names them.
 */
function withRuntimeNames(containers: IndexedContainer[], pods: Map<string, PodName>, runtime: { sandboxes: RuntimeSandbox[]; containers: RuntimeContainer[] }): IndexedContainer[] {
  const sandboxes = new Map(runtime.sandboxes.map((sandbox) => [sandbox.id, sandbox]));
  for (const sandbox of runtime.sandboxes) if (sandbox.uid !== "") pods.set(sandbox.uid, { uid: sandbox.uid, namespace: sandbox.namespace, name: sandbox.name });
  const named = new Map(runtime.containers.map((container) => [container.id, container]));
  return containers.map((container) => {
    const sandbox = sandboxes.get(container.id);
    if (sandbox) return { ...container, sandbox: true, labels: sandbox.labels, ...(sandbox.uid !== "" ? { podUid: sandbox.uid } : {}) };
    const known = named.get(container.id);
    if (!known) return container;
    const podUid = sandboxes.get(known.sandboxId)?.uid;
    return { ...container, name: known.name, labels: known.labels, sandbox: false, ...(podUid ? { podUid } : {}) };
  });
}

function withName(container: IndexedContainer, name: ContainerName | undefined): IndexedContainer {
  if (!name || (name.podUid !== undefined && container.podUid !== undefined && name.podUid !== container.podUid)) return container;
  return { ...container, name: name.name };
}

/** The containers below `root`: breadth-first over directories, not below a container's own cgroup. */
async function walkTree(root: string): Promise<IndexedContainer[]> {
  const found: IndexedContainer[] = [];
  let level: string[] = [""];
  let seen = 0;
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0 && seen < MAX_DIRS; depth++) {
    const next: string[] = [];
    for (const relative of level) {
      let dir;
      try {
        dir = await opendir(path.join(root, relative), { bufferSize: 256 });
      } catch {
        continue; // removed meanwhile
      }
      try {
        for await (const entry of dir) {
          if (!entry.isDirectory()) continue;
          seen++;
          const child = `${relative}/${entry.name}`;
          const container = containerOfCgroup(child);
          if (container) found.push({ ...container, cgroup: child, dir: path.join(root, child) });
          else next.push(child);
        }
      } catch {
        // removed while read
      }
    }
    level = next;
  }
  return found;
}

/**
 * The containers the visible processes are in, from their /proc/PID/cgroup
 * line (paths as this cgroup namespace shows them, `/../…` outside it):
 * for a daemon whose cgroup tree shows no containers, as a sidecar's, which
 * shares its pod's pid namespace (a few processes) but sees only its own cgroup.
 */
async function containersOfProcesses(line: CgroupLine): Promise<IndexedContainer[]> {
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((name) => /^[1-9]\d*$/.test(name)).map(Number);
  const byCgroup = new Map<string, IndexedContainer>();
  await Promise.all(
    pids.map(async (pid) => {
      const text = await readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => "");
      const cgroup = cgroupOfLine(text, line);
      const container = cgroup === undefined ? undefined : containerOfCgroup(cgroup);
      if (!container || cgroup === undefined) return;
      const known = byCgroup.get(cgroup) ?? { ...container, cgroup, dir: "", pids: [] };
      known.pids!.push(pid);
      byCgroup.set(cgroup, known);
    }),
  );
  return [...byCgroup.values()];
}

/**
 * The mount point of the hierarchy `line` names, from /proc/self/mountinfo:
 * the last one listed (a host's tree mounted over a container's own
 * /sys/fs/cgroup comes after it).
 */
export function hierarchyMount(line: CgroupLine): string {
  let found: string | undefined;
  for (const entry of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [mount, fs] = entry.split(" - ");
    if (!fs) continue;
    const [fsType, , superOptions = ""] = fs.split(" ");
    const wanted = line === "0::" ? fsType === "cgroup2" : fsType === "cgroup" && superOptions.split(",").includes("name=systemd");
    if (wanted) found = mount.split(" ")[4];
  }
  if (found === undefined) throw new Error(`no cgroup hierarchy for the ${line} line is mounted`);
  return found;
}

/** The ContainerRef and PodRef messages inside a request (a PodRef inside a ContainerRef counts once), at most 16. */
function containerRefsIn(message: unknown): Array<ContainerRef | PodRef> {
  const found: Array<ContainerRef | PodRef> = [];
  const walk = (value: unknown, depth: number): void => {
    if (found.length >= 16 || depth > 8 || value === null || typeof value !== "object" || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((item) => walk(item, depth + 1));
      return;
    }
    const typeName = (value as { $typeName?: string }).$typeName;
    if (typeName === "lxnsd.v1.ContainerRef") {
      const ref = value as ContainerRef;
      found.push(ref.selector.case === "pod" ? ref.selector.value : ref);
      return;
    }
    if (typeName === "lxnsd.v1.PodRef") {
      found.push(value as PodRef);
      return;
    }
    for (const field of Object.values(value)) walk(field, depth + 1);
  };
  walk(message, 0);
  return found;
}
