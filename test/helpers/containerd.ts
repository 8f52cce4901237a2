import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { NamespaceMode } from "./cri-gen/runtime/v1/api_pb";
import type { PodSandboxConfig } from "./cri-gen/runtime/v1/api_pb";
import { CRI, CriTestClient } from "./cri-client";
import { trackChild } from "./leftovers";
import { busyboxStaticProblem, buildBusyboxImage } from "./oci-image";
import { waitFor } from "./proc";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PodSandboxConfigSchema } from "./cri-gen/runtime/v1/api_pb";

const run = promisify(execFile);

/** The CNI plugins of Debian's containernetworking-plugins. */
const CNI_BIN = "/usr/lib/cni";

/** The programs the harness runs. */
const NEEDED = ["containerd", "ctr", "runc", "containerd-shim-runc-v2", "unshare", "tar"];

function onPath(program: string): boolean {
  return (process.env.PATH ?? "/usr/bin:/bin").split(":").some((dir) => {
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why a containerd of the test's own cannot run here ("" = it can): not root, or a Debian package missing. */
export function containerdProblem(): string {
  if (process.geteuid?.() !== 0) return "needs root";
  const missing = NEEDED.filter((program) => !onPath(program));
  if (missing.length > 0) return `${missing.join(", ")} missing (apt-get install containerd runc)`;
  for (const plugin of ["bridge", "host-local", "loopback"]) {
    if (!existsSync(path.join(CNI_BIN, plugin))) return `${CNI_BIN}/${plugin} missing (apt-get install containernetworking-plugins)`;
  }
  return busyboxStaticProblem();
}

/** A pod as the test asks for it. */
export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  hostname?: string;
  labels?: Record<string, string>;
}

/** A pod the harness made: its sandbox id and the config it was made with (CreateContainer needs it again). */
export interface TestPod {
  id: string;
  config: MessageInitShape<typeof PodSandboxConfigSchema>;
}

/** A container as the test asks for it; `command` replaces the image's entrypoint (`sleep` for a long time). */
export interface ContainerSpec {
  name: string;
  labels?: Record<string, string>;
  command?: string[];
}

/** What teardown found still there and removed: a test asserts all are empty. */
export interface Leftovers {
  processes: string[];
  mounts: string[];
  /** Shim sockets and CNI cache entries of its pods, outside the temp dir. */
  files: string[];
}

/** The config of a containerd with CRI that keeps everything under `dir` (see ../shared/notes/cri-on-this-machine.md). */
function containerdConfig(dir: string, image: string): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(path.join(dir, "root"))}
state = ${q(path.join(dir, "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${q(path.join(dir, "containerd.sock"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(image)}
  # CAP_SYS_RESOURCE is not in this machine's bounding set: the sandbox's -998 would fail.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ${q(path.join(dir, "runc"))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(CNI_BIN)}
    conf_dir = ${q(path.join(dir, "cni"))}
`;
}

/** Pods get addresses of a documentation range, on a bridge inside containerd's own network namespace. */
function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "lxnsd-test",
    plugins: [
      {
        type: "bridge",
        bridge: "lxnsd-cri0",
        isGateway: false,
        ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: "192.0.2.0/24" }]], dataDir: path.join(dir, "cni-ipam") },
      },
    ],
  });
}

/**
 * Directories outside the temp dir that containerd 1.6, runc and CNI make
 * whatever the config says (the shims' socket directory, libcni's cache, the
 * cgroupfs parent `k8s.io` of every hierarchy), deepest first. Those that did
 * not exist before are removed at the end once empty.
 */
function machineDirs(): string[] {
  const cgroups = readdirSync("/sys/fs/cgroup").map((hierarchy) => path.join("/sys/fs/cgroup", hierarchy, "k8s.io"));
  return [...cgroups, "/run/containerd/s", "/run/containerd/runc", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni"];
}

/** Whether `pid` is a process, not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

/** Every pid on the machine. */
function allPids(): number[] {
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
}

/**
 * A containerd of the test's own, with CRI: root, state, socket and CNI
 * config in a temp dir, inside a network namespace of its own, runc, the
 * native snapshotter, and one image built from busybox-static (the pods'
 * sandbox and the containers' default). Pods and containers are made and
 * removed through CRI. {@link stop} leaves nothing: pods removed, containerd
 * ended by its pid, no shim or container process, no mount under the temp dir.
 */
export class TestContainerd {
  /** Sandbox and container ids the harness made, for the sweep at the end. */
  private readonly made = new Set<string>();
  /** {@link machineDirs} that did not exist before this containerd. */
  private readonly newDirs = machineDirs().filter((dir) => !existsSync(dir));

  private constructor(
    readonly dir: string,
    readonly socket: string,
    readonly image: string,
    readonly proc: ChildProcess,
    readonly cri: CriTestClient,
  ) {}

  /** The CRI endpoint, as --cri-endpoint takes it. */
  get endpoint(): string {
    return `unix://${this.socket}`;
  }

  /** containerd's pid. */
  get pid(): number {
    return this.proc.pid!;
  }

  /** Starts containerd, imports the image and resolves once CRI serves and knows it. */
  static async start(): Promise<TestContainerd> {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-containerd-"));
    const image = `docker.io/lxnsd-test/busybox:${randomBytes(4).toString("hex")}`;
    let started: TestContainerd | undefined;
    try {
      mkdirSync(path.join(dir, "cni"));
      writeFileSync(path.join(dir, "cni", "10-lxnsd-test.conflist"), cniConfig(dir));
      writeFileSync(path.join(dir, "config.toml"), containerdConfig(dir, image));
      const imageTar = buildBusyboxImage(mkdtempSync(path.join(dir, "image-")), image, ["/bin/sleep", "2147483647"]);
      const log = openSync(path.join(dir, "containerd.log"), "a");
      // unshare execs containerd: the pid is containerd's. Its bridge and veths stay in that network namespace.
      const proc = spawn("unshare", ["--net", "containerd", "--config", path.join(dir, "config.toml")], { stdio: ["ignore", log, log] });
      closeSync(log);
      trackChild(proc);
      const socket = path.join(dir, "containerd.sock");
      started = new TestContainerd(dir, socket, image, proc, new CriTestClient(`unix://${socket}`));
      await started.ready();
      await run("ctr", ["--address", socket, "-n", "k8s.io", "images", "import", "--snapshotter", "native", imageTar]);
      // CRI learns of imported images from containerd's events: wait until it knows this one.
      await started.until(async () => (await started!.cri.call(CRI.imageStatus, { image: { image } })).image !== undefined, "CRI to know the imported image");
      return started;
    } catch (err) {
      const log = readOr(path.join(dir, "containerd.log"), "");
      if (started) await started.stop();
      else rmSync(dir, { recursive: true, force: true });
      throw new Error(`test containerd did not start: ${(err as Error).message}\ncontainerd's log:\n${log.slice(-4000)}`);
    }
  }

  /** Resolves once `check` holds, asking every 50 ms for up to 20 s; rejects early if containerd exited. */
  private async until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    let last: unknown;
    while (Date.now() < deadline) {
      if (!alive(this.pid)) throw new Error(`containerd exited while waiting for ${what}`);
      try {
        if (await check()) return;
      } catch (err) {
        last = err;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
  }

  private ready(): Promise<void> {
    return this.until(async () => {
      if (!existsSync(this.socket)) return false;
      return (await this.cri.call(CRI.version, {}, 2000)).runtimeApiVersion === "v1";
    }, "CRI to serve");
  }

  /** Runs a pod sandbox (its own network, uts and ipc namespaces; each container gets its own pid namespace, as kubelet does). */
  async runPod(spec: PodSpec): Promise<TestPod> {
    const config: MessageInitShape<typeof PodSandboxConfigSchema> = {
      metadata: { name: spec.name, namespace: spec.namespace, uid: spec.uid, attempt: 0 },
      hostname: spec.hostname ?? spec.name,
      labels: spec.labels ?? {},
      linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
    };
    const { podSandboxId } = await this.cri.call(CRI.runPodSandbox, { config });
    this.made.add(podSandboxId);
    return { id: podSandboxId, config };
  }

  /** Creates (not starts) a container in `pod`; resolves to its id. */
  async createContainer(pod: TestPod, spec: ContainerSpec): Promise<string> {
    const { containerId } = await this.cri.call(CRI.createContainer, {
      podSandboxId: pod.id,
      sandboxConfig: pod.config as PodSandboxConfig,
      config: {
        metadata: { name: spec.name, attempt: 0 },
        image: { image: this.image },
        ...(spec.command ? { command: spec.command } : {}),
        labels: spec.labels ?? {},
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
      },
    });
    this.made.add(containerId);
    return containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.cri.call(CRI.startContainer, { containerId: id });
  }

  /** Creates and starts a container; resolves to its id. */
  async runContainer(pod: TestPod, spec: ContainerSpec): Promise<string> {
    const id = await this.createContainer(pod, spec);
    await this.startContainer(id);
    return id;
  }

  /** Stops a container: SIGKILL at once with the default 0 s timeout. */
  async stopContainer(id: string, timeoutSeconds = 0): Promise<void> {
    await this.cri.call(CRI.stopContainer, { containerId: id, timeout: BigInt(timeoutSeconds) });
  }

  async removeContainer(id: string): Promise<void> {
    await this.cri.call(CRI.removeContainer, { containerId: id });
  }

  async stopPod(id: string): Promise<void> {
    await this.cri.call(CRI.stopPodSandbox, { podSandboxId: id });
  }

  /** Removes a pod sandbox and every container in it. */
  async removePod(id: string): Promise<void> {
    await this.cri.call(CRI.removePodSandbox, { podSandboxId: id });
  }

  /** The pid ContainerStatus (verbose) reports for a container; undefined when not running. */
  async statusPid(id: string): Promise<number | undefined> {
    const answer = await this.cri.call(CRI.containerStatus, { containerId: id, verbose: true });
    const pid = (JSON.parse(answer.info["info"] ?? "{}") as { pid?: number }).pid;
    return pid && pid > 0 ? pid : undefined;
  }

  /**
   * Removes every pod (and so every container) through CRI, ends containerd
   * by its pid, then kills whatever shim or container process is still there,
   * unmounts whatever is still mounted under the temp dir and removes it.
   * Resolves to what that sweep found: a clean teardown finds nothing.
   */
  async stop(): Promise<Leftovers> {
    const errors: string[] = [];
    if (alive(this.pid)) {
      try {
        const { items } = await this.cri.call(CRI.listPodSandbox, {}, 10_000);
        for (const pod of items) {
          await this.cri.call(CRI.stopPodSandbox, { podSandboxId: pod.id });
          await this.cri.call(CRI.removePodSandbox, { podSandboxId: pod.id });
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    this.cri.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once("exit", resolve));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    const leftovers = { processes: await this.sweepProcesses(), mounts: await this.sweepMounts(), files: this.sweepFiles() };
    this.removeCgroups();
    for (const dir of this.newDirs) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty (someone else's), or never made
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) leftovers.processes.push(...errors.map((message) => `(teardown error: ${message})`));
    return leftovers;
  }

  /** Kills (SIGKILL), waits for and names every shim of this containerd and every process in a cgroup of one of its containers. */
  private async sweepProcesses(): Promise<string[]> {
    const found: string[] = [];
    const killed: number[] = [];
    for (const pid of allPids()) {
      if (!alive(pid)) continue;
      const cmdline = readOr(`/proc/${pid}/cmdline`, "").split("\0");
      const cgroups = readOr(`/proc/${pid}/cgroup`, "");
      const shim = cmdline.includes(this.socket);
      const contained = [...this.made].some((id) => cgroups.includes(`/${id}\n`) || cgroups.includes(`/${id}/`));
      if (!shim && !contained) continue;
      found.push(`${pid} ${cmdline.join(" ").trim()}`);
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    // Their cgroups can be removed only once they are gone.
    await waitFor(() => killed.every((pid) => !alive(pid)), 5000, "killed leftovers to exit").catch(() => undefined);
    return found;
  }

  /** Unmounts (lazily, deepest first) and names every mount under the temp dir. */
  private async sweepMounts(): Promise<string[]> {
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4])
      .filter((point): point is string => point !== undefined && (point === this.dir || point.startsWith(`${this.dir}/`)))
      .map((point) => point.replace(/\\040/g, " "))
      .sort((a, b) => b.length - a.length);
    for (const point of mounts) await run("umount", ["-l", point]).catch(() => undefined);
    return mounts;
  }

  /**
   * Removes and names the files a pod leaves outside the temp dir when its
   * shim was killed rather than asked to stop: the shim's socket (containerd
   * 1.6 names it /run/containerd/s/sha256(ADDRESS/NAMESPACE/ID)) and libcni's
   * cache entries for the sandbox.
   */
  private sweepFiles(): string[] {
    const found: string[] = [];
    const results = "/var/lib/cni/results";
    const cached = existsSync(results) ? readdirSync(results) : [];
    for (const id of this.made) {
      const socket = path.join("/run/containerd/s", createHash("sha256").update(path.join(this.socket, "k8s.io", id)).digest("hex"));
      const files = [socket, ...cached.filter((name) => name.includes(`-${id}-`)).map((name) => path.join(results, name))];
      for (const file of files.filter((candidate) => existsSync(candidate))) {
        found.push(file);
        rmSync(file, { force: true });
      }
    }
    return found;
  }

  /** runc removes a container's cgroups when it is deleted; any left (a killed shim) go here, once empty. */
  private removeCgroups(): void {
    for (const hierarchy of readdirSync("/sys/fs/cgroup")) {
      for (const id of this.made) {
        const dir = path.join("/sys/fs/cgroup", hierarchy, "k8s.io", id);
        if (!existsSync(dir)) continue;
        try {
          rmdirSync(dir);
        } catch {
          // still busy or not a cgroup hierarchy: the leftover check names the processes
        }
      }
    }
  }
}
