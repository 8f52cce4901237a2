import { randomUUID } from "node:crypto";
import { Server, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as native from "../native/lib";
import { Authenticator } from "./auth/authenticator";
import { OPEN_POLICY } from "./auth/policy";
import { changesState } from "./auth/scopes";
import type { Policy } from "./auth/policy";
import { ChildSlots } from "./programs/child-slots";
import { messageLimitProblem } from "./programs/output-limits";
import type { DaemonConfig } from "./config/config";
import { HandleTable } from "./namespaces/handle-table";
import { ConnectionLimits } from "./listeners/connection-limits";
import { groupId } from "./listeners/group-id";
import { listenTcp, tcpCredentials } from "./listeners/tcp-listener";
import { listenUnix } from "./listeners/unix-listener";
import type { Listener } from "./listeners/unix-listener";
import { unixSocketPath } from "./listeners/unix-socket";
import { NamespaceLimits } from "./namespaces/limits";
import { NamespaceSysctls } from "./namespaces/sysctls";
import { NamespacePins, pinDirs, pinOrigin } from "./namespaces/pins";
import { NamespaceResolver } from "./namespaces/resolver";
import { ContainerIndex } from "./containers/container-index";
import { ContainerTargets } from "./containers/container-targets";
import { podNamespaceLookup } from "./containers/pod-names";
import type { RuntimeNames } from "./containers/runtime-names";
import { ContainerService } from "./services/container-service";
import { ContainerService as ContainerServiceDesc } from "../api/gen/lxnsd/v1/container_service_pb";
import { DaemonHealth } from "./ops/health";
import { DaemonMetrics } from "./ops/metrics";
import { MetricsServer } from "./ops/metrics-server";
import { openAuditLog } from "./ops/audit-log";
import { addReflection } from "./ops/reflection";
import type { RpcHooks } from "./rpc/add-service";
import { auditPeer, writeAudit } from "./rpc/audit";
import { identifyFirst } from "./rpc/identify-first";
import type { EarlyRefusal } from "./rpc/identify-first";
import { openSessions, sessionsClosed } from "./rpc/server-sessions";
import { NamespaceService } from "./services/namespace-service";
import { MountService } from "./services/mount-service";
import { FileService } from "./services/file-service";
import { ProcessService } from "./services/process-service";
import { programCgroupParent } from "./programs/program-cgroup";
import { CriRuntime } from "./containers/cri-runtime";
import { MountService as MountServiceDesc } from "../api/gen/lxnsd/v1/mount_service_pb";
import { FileService as FileServiceDesc } from "../api/gen/lxnsd/v1/file_service_pb";
import { NamespaceService as NamespaceServiceDesc } from "../api/gen/lxnsd/v1/namespace_service_pb";
import { ProcessService as ProcessServiceDesc } from "../api/gen/lxnsd/v1/process_service_pb";

/** The policy in `file`; its parser (zod, yaml) is loaded only when there is one. */
function readPolicy(file: string): Policy {
  const { loadPolicy } = require("./auth/policy-file") as typeof import("./auth/policy-file");
  return loadPolicy(file);
}

/** The lxnsd gRPC server with its services, handle table and listeners. */
export class Daemon {
  readonly server: Server;
  readonly handles: HandleTable;
  readonly slots: ChildSlots;
  /** grpc.health.v1 statuses: SERVING once started, NOT_SERVING while stopping. */
  readonly health: DaemonHealth;
  /** Prometheus metrics; served over HTTP only with `metricsListen`. */
  readonly metrics: DaemonMetrics;
  private readonly listeners: Listener[] = [];
  /** Held for the daemon's life: its user-namespace rules keep their namespaces open. */
  private readonly policy: Policy;
  private readonly authenticator: Authenticator;
  /** Connections of every listener, in total and per peer. */
  readonly connections: ConnectionLimits;
  private metricsServer?: MetricsServer;
  /** Ends every WatchNamespaces stream (they never finish by themselves). */
  private readonly endWatches: () => void;
  /** The audit stream (undefined: --audit-log off). */
  private readonly audit: Logger | undefined;
  /** Closes the audit file, if there is one. */
  private readonly closeAudit: () => void;
  /** Where GET /metrics answers (HOST:PORT, the real port), once started with `metricsListen`. */
  metricsAddress?: string;
  /** The CRI runtime of `criEndpoint`, asked for container and pod names; undefined without one. Connects at its first call. */
  readonly cri: CriRuntime | undefined;

  /** Throws on a configuration it cannot serve (an invalid policy file, unreadable TLS files come at start()). */
  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Logger,
  ) {
    const messageProblem = messageLimitProblem(config.maxMessageBytes);
    if (messageProblem) throw new Error(messageProblem);
    // Pod-namespace rules read kubelet's log directory, and the CRI runtime's pods through the container index (made below).
    let index: ContainerIndex | undefined;
    const policy = withPodNamespaces(config.policyFile ? readPolicy(config.policyFile) : OPEN_POLICY, config.podLogDir, () => index);
    this.policy = policy;
    const ownerUids = [...new Set([0, process.geteuid?.() ?? 0])];
    this.authenticator = new Authenticator(policy, ownerUids);
    this.connections = new ConnectionLimits({ maxTotal: config.maxConnections, maxPerPeer: config.maxConnectionsPerPeer }, log);
    this.server = new Server({
      "grpc.max_receive_message_length": config.maxMessageBytes,
      "grpc.max_send_message_length": config.maxMessageBytes,
      "grpc.max_concurrent_streams": config.maxStreamsPerConnection,
      "grpc.keepalive_time_ms": config.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": config.keepaliveTimeoutMs,
      "grpc.max_connection_idle_ms": config.maxConnectionIdleMs,
      // node's HTTP/2 maxSessionMemory (MB): what nghttp2 holds per connection (header tables, output queued for a
      // peer that does not read, streams); past it new streams are refused. Messages being received are not in it:
      // identifyFirst reads none of an unknown caller's, and holds a known one's to --max-receive-memory.
      "grpc-node.max_session_memory": config.maxConnectionMemoryMb,
      // identifyFirst must stay the first interceptor: it is handed grpc-js's own call, whose stream it meters.
      interceptors: [identifyFirst(this.authenticator, (path, peer, error) => this.refusedEarly(path, peer, error), config.maxReceiveMemoryMb * 1024 * 1024)],
      // channelz stays on: grpc-js 1.14's forceShutdown() destroys only the sessions channelz
      // tracks, so without it a stream still open past the shutdown grace kept its connection.
    });
    this.handles = new HandleTable({
      maxHandles: config.maxHandles,
      maxPerOwner: config.maxHandlesPerIdentity,
      defaultLeaseMs: config.defaultLeaseMs,
      maxLeaseMs: config.maxLeaseMs,
      closeFd: (fd) => native.close(fd),
      log,
    });
    this.slots = new ChildSlots({ maxChildren: config.maxChildren, maxQueue: config.maxQueue });
    this.cri = config.criEndpoint !== "" ? new CriRuntime(config.criEndpoint) : undefined;
    const auditLog = config.auditLog === undefined ? undefined : openAuditLog(config.auditLog);
    this.closeAudit = () => auditLog?.close();
    const audit = config.auditLog === undefined ? log : auditLog?.log;
    this.audit = audit;
    const hooks: RpcHooks = { log, ...(audit ? { audit } : {}), gate: this.authenticator, slots: this.slots };
    const dirs = pinDirs(config.stateDir, config.netnsDir);
    // Pins may always be named by path, wherever the state dir is; /proc/PID/ns/TYPE always.
    const containers = containerTargets(config.podLogDir, log, this.cri);
    index = containers?.index;
    const resolver = new NamespaceResolver(
      this.handles,
      [...new Set([...config.pathRoots, dirs.ns, ...(dirs.netns ? [dirs.netns] : [])])],
      (file) => pinOrigin(dirs, file),
      containers,
    );
    hooks.prepare = (request, context) => resolver.prepare(request, context.caller);
    const pins = new NamespacePins(resolver, dirs);
    const limits = new NamespaceLimits(resolver, config.childTimeoutMs);
    const ids = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
    this.metrics = new DaemonMetrics(
      {
        children: () => native.runningChildren(),
        handles: () => this.handles.size,
        queued: () => this.slots.waiting,
        stuckCommandReads: () => native.stuckCommandReads(),
      },
      config.metricsListen !== "",
    );
    const observe = (desc: { typeName: string }) => this.metrics.observerFor(desc.typeName);
    const namespaces = new NamespaceService({ handles: this.handles, resolver, limits, ids, childTimeoutMs: config.childTimeoutMs, pins, sysctls: new NamespaceSysctls(resolver, config.childTimeoutMs) });
    namespaces.addTo(this.server, { ...hooks, observe: observe(NamespaceServiceDesc) });
    this.endWatches = () => namespaces.watch.end();
    const programs = {
      childTimeoutMs: config.childTimeoutMs,
      cgroupParent: programCgroupParent(config.programCgroup, log),
      ...(config.testPreExecSleepMs !== undefined ? { testPreExecSleepMs: config.testPreExecSleepMs } : {}),
    };
    new ProcessService({ resolver, ids, programs, maxMessageBytes: config.maxMessageBytes }).addTo(this.server, { ...hooks, observe: observe(ProcessServiceDesc) });
    new MountService({ resolver, childTimeoutMs: config.childTimeoutMs, sourceRoots: config.mountSourceRoots }).addTo(this.server, {
      ...hooks,
      observe: observe(MountServiceDesc),
    });
    new FileService({ resolver, childTimeoutMs: config.childTimeoutMs, maxFileBytes: config.maxFileBytes }).addTo(this.server, { ...hooks, observe: observe(FileServiceDesc) });
    new ContainerService({ resolver, ...(containers ? { containers } : {}) }).addTo(this.server, { ...hooks, observe: observe(ContainerServiceDesc) });
    const services = [NamespaceServiceDesc, ProcessServiceDesc, MountServiceDesc, FileServiceDesc, ContainerServiceDesc];
    this.health = new DaemonHealth(services.map((service) => service.typeName));
    this.health.addTo(this.server);
    addReflection(this.server, services);
  }

  /**
   * A call answered at its headers (identifyFirst): logged, counted and
   * audited (on the audit stream, with its peer) as the call wrapper would.
   * Its message was never read: the line names no targets or details.
   */
  private readonly refusedEarly: EarlyRefusal = (path, call, error) => {
    const [service = "", method = ""] = path.slice(1).split("/");
    const name = `${service.split(".").pop()}/${method}`;
    const code = status[error.code];
    const peer = call.getPeer();
    if (service.startsWith("lxnsd.v1.")) {
      this.metrics.observerFor(service)(method, error.code, 0);
      if (changesState(name) && this.audit) {
        writeAudit(this.audit, randomUUID(), { identity: `unauthenticated ${peer}`, peer: auditPeer(call), method: name, targets: [], outcome: code });
      }
    }
    this.log.info({ method: name, peer, code, reason: error.reason }, error.message);
  };

  /** Binds every listener and starts serving; resolves to the bound addresses (a TCP port 0 replaced by the real one). */
  async start(): Promise<string[]> {
    const gid = this.config.socketGroup !== undefined ? groupId(this.config.socketGroup) : undefined;
    for (const address of new Set(this.config.listen)) {
      const socketPath = unixSocketPath(address);
      const listener = socketPath
        ? await listenUnix(this.server, socketPath, gid, { knows: (peer) => this.authenticator.admitsUnixPeer(peer), limits: this.connections }, this.log)
        : await listenTcp(this.server, address, tcpCredentials(address, this.config.tls, this.config.insecureLoopback), this.connections);
      this.listeners.push(listener);
    }
    const bound = this.listeners.map((listener) => listener.address);
    if (this.config.metricsListen !== "") {
      this.metricsServer = new MetricsServer(this.metrics.registry);
      this.metricsAddress = await this.metricsServer.listen(this.config.metricsListen);
    }
    this.health.set(true);
    this.log.info({ listen: bound, metrics: this.metricsAddress, cri: this.cri?.endpoint }, "lxnsd serving");
    return bound;
  }

  /**
   * Reports NOT_SERVING, ends WatchNamespaces streams (OK), stops accepting
   * connections and calls, waits up to `graceMs` (default: the configured
   * shutdown grace) for those in flight, cancels the rest (killing their
   * children), then releases every handle, child and socket.
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.health.set(false);
    this.endWatches();
    this.listeners.forEach((listener) => listener.close());
    const sessions = openSessions(this.server);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      // tryShutdown's own callback may come while calls are still in flight (server-sessions.ts): wait for the sessions.
      this.server.tryShutdown(() => {
        void sessionsClosed(sessions).then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
    this.handles.closeAll();
    // process.exit() skips the addon's cleanup hook: kill what still runs now.
    native.killAllChildren();
    await this.metricsServer?.close();
    this.cri?.close();
    this.closeAudit();
    this.policy.close?.();
    this.log.info("lxnsd stopped");
  }
}

/**
 * Container references from this host's cgroups, named by `runtime` too when
 * there is one (the CRI client); undefined (logged) when no cgroup hierarchy names them.
 */
function containerTargets(podLogDir: string, log: Logger, runtime?: RuntimeNames): ContainerTargets | undefined {
  try {
    return new ContainerTargets(ContainerIndex.forHost(podLogDir, runtime ? { runtime } : {}));
  } catch (err) {
    log.warn({ err }, "containers cannot be named: no cgroup hierarchy to read");
    return undefined;
  }
}

/**
 * `policy` with the pod lookups its pod-namespace rules need: a pod's
 * namespace from kubelet's pod log directory, else from the CRI runtime's
 * sandboxes; a container's pod from the runtime when its cgroup path names
 * none. `index()`: the container index, whose snapshot holds the runtime's
 * names (kept fresh for such callers by NamespaceResolver.prepare).
 */
function withPodNamespaces(policy: Policy, podLogDir: string, index: () => ContainerIndex | undefined): Policy {
  if (!policy.identities.some((identity) => identity.targets?.podNamespaces)) return policy;
  const fromLogs = podNamespaceLookup(podLogDir);
  const runtimeOnly = (uid: string) => (index()?.options.runtime ? index()?.pod(uid)?.namespace : undefined);
  const podNamespaceOf = (uid: string) => fromLogs(uid) ?? runtimeOnly(uid);
  const podUidOfContainer = (id: string) => index()?.runtimePodUid(id);
  const identities = policy.identities.map((identity) => (identity.targets?.podNamespaces ? { ...identity, targets: { ...identity.targets, podNamespaceOf, podUidOfContainer } } : identity));
  return { ...policy, identities };
}
