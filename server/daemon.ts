import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as native from "../native/lib";
import type { DaemonConfig } from "./config";
import { HandleTable } from "./handle-table";
import { NamespaceLimits } from "./namespace-limits";
import { NamespacePins, pinDirs } from "./namespace-pins";
import { NamespaceResolver } from "./namespace-resolver";
import { DaemonHealth } from "./ops/health";
import { DaemonMetrics } from "./ops/metrics";
import { MetricsServer } from "./ops/metrics-server";
import { addReflection } from "./ops/reflection";
import { NamespaceService } from "./services/namespace-service";
import { MountService } from "./services/mount-service";
import { ProcessService } from "./services/process-service";
import { MountService as MountServiceDesc } from "../client/gen/lxnsd/v1/mount_service_pb";
import { NamespaceService as NamespaceServiceDesc } from "../client/gen/lxnsd/v1/namespace_service_pb";
import { ProcessService as ProcessServiceDesc } from "../client/gen/lxnsd/v1/process_service_pb";
import { prepareUnixSocket, removeSocket, restrictSocket, unixSocketPath } from "./unix-socket";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Refuses TCP listeners that are not on loopback: without TLS they would hand root to the network. */
function checkTcpAddress(address: string): void {
  const host = address.startsWith("[") ? address.slice(0, address.indexOf("]") + 1) : address.slice(0, address.lastIndexOf(":"));
  if (!LOOPBACK_HOSTS.has(host) && !/^127\.\d+\.\d+\.\d+$/.test(host)) {
    throw new Error(`refusing plaintext TCP listener ${address}: only loopback addresses (127.0.0.1, [::1]) are allowed until TLS is configured`);
  }
}

/** The lxnsd gRPC server with its services, handle table and listeners. */
export class Daemon {
  readonly server: Server;
  readonly handles: HandleTable;
  /** grpc.health.v1 statuses: SERVING once started, NOT_SERVING while stopping. */
  readonly health: DaemonHealth;
  /** Prometheus metrics; served over HTTP only with `metricsListen`. */
  readonly metrics: DaemonMetrics;
  private readonly sockets: string[] = [];
  private metricsServer?: MetricsServer;
  /** Ends every WatchNamespaces stream (they never finish by themselves). */
  private readonly endWatches: () => void;
  /** Where GET /metrics answers (HOST:PORT, the real port), once started with `metricsListen`. */
  metricsAddress?: string;

  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Logger,
  ) {
    this.server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
    this.handles = new HandleTable({
      maxHandles: config.maxHandles,
      defaultLeaseMs: config.defaultLeaseMs,
      maxLeaseMs: config.maxLeaseMs,
      closeFd: (fd) => native.close(fd),
      log,
    });
    const dirs = pinDirs(config.stateDir, config.netnsDir);
    // Pins may always be named by path, wherever the state dir is.
    const resolver = new NamespaceResolver(this.handles, [...config.pathRoots, dirs.ns, ...(dirs.netns ? [dirs.netns] : [])]);
    const pins = new NamespacePins(resolver, dirs);
    const limits = new NamespaceLimits(resolver, config.childTimeoutMs);
    const ids = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
    this.metrics = new DaemonMetrics({ children: () => native.runningChildren(), handles: () => this.handles.size }, config.metricsListen !== "");
    const observe = (desc: { typeName: string }) => this.metrics.observerFor(desc.typeName);
    const namespaces = new NamespaceService({ handles: this.handles, resolver, limits, ids, childTimeoutMs: config.childTimeoutMs, pins });
    namespaces.addTo(this.server, log, observe(NamespaceServiceDesc));
    this.endWatches = () => namespaces.watch.end();
    new ProcessService({ resolver, ids }).addTo(this.server, log, observe(ProcessServiceDesc));
    new MountService({ resolver, childTimeoutMs: config.childTimeoutMs }).addTo(this.server, log, observe(MountServiceDesc));
    const services = [NamespaceServiceDesc, ProcessServiceDesc, MountServiceDesc];
    this.health = new DaemonHealth(services.map((service) => service.typeName));
    this.health.addTo(this.server);
    addReflection(this.server, services);
  }

  /** Binds every listener and starts serving; resolves to the bound addresses (a TCP port 0 replaced by the real one). */
  async start(): Promise<string[]> {
    const bound: string[] = [];
    for (const address of new Set(this.config.listen)) {
      const socketPath = unixSocketPath(address);
      if (socketPath) await prepareUnixSocket(socketPath);
      else checkTcpAddress(address);
      const port = await new Promise<number>((resolve, reject) =>
        this.server.bindAsync(address, ServerCredentials.createInsecure(), (err, value) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(value))),
      );
      if (socketPath) {
        restrictSocket(socketPath);
        this.sockets.push(socketPath);
        bound.push(address);
      } else {
        bound.push(`${address.slice(0, address.lastIndexOf(":"))}:${port}`);
      }
    }
    if (this.config.metricsListen !== "") {
      this.metricsServer = new MetricsServer(this.metrics.registry);
      this.metricsAddress = await this.metricsServer.listen(this.config.metricsListen);
    }
    this.health.set(true);
    this.log.info({ listen: bound, metrics: this.metricsAddress }, "lxnsd serving");
    return bound;
  }

  /**
   * Reports NOT_SERVING, ends WatchNamespaces streams (OK), stops accepting
   * calls, waits up to `graceMs` (default: the configured shutdown grace)
   * for those in flight, cancels the rest (killing their children), then
   * releases every handle, child and socket.
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.health.set(false);
    this.endWatches();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.handles.closeAll();
    // process.exit() skips the addon's cleanup hook: kill what still runs now.
    native.killAllChildren();
    this.sockets.forEach(removeSocket);
    await this.metricsServer?.close();
    this.log.info("lxnsd stopped");
  }
}
