import { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as native from "../native/lib";
import { Authenticator } from "./auth/authenticator";
import { OPEN_POLICY, loadPolicy } from "./auth/policy";
import { ChildSlots } from "./child-slots";
import type { DaemonConfig } from "./config";
import { HandleTable } from "./handle-table";
import { groupId } from "./listeners/group-id";
import { listenTcp, tcpCredentials } from "./listeners/tcp-listener";
import { listenUnix } from "./listeners/unix-listener";
import type { Listener } from "./listeners/unix-listener";
import { unixSocketPath } from "./listeners/unix-socket";
import { NamespaceLimits } from "./namespace-limits";
import { NamespacePins, pinDirs } from "./namespace-pins";
import { NamespaceResolver } from "./namespace-resolver";
import type { RpcHooks } from "./rpc/add-service";
import { NamespaceService } from "./services/namespace-service";
import { MountService } from "./services/mount-service";
import { ProcessService } from "./services/process-service";

/** The lxnsd gRPC server with its services, handle table and listeners. */
export class Daemon {
  readonly server: Server;
  readonly handles: HandleTable;
  readonly slots: ChildSlots;
  private readonly listeners: Listener[] = [];

  /** Throws on a configuration it cannot serve (an invalid policy file, unreadable TLS files come at start()). */
  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Logger,
  ) {
    this.server = new Server({
      "grpc.max_receive_message_length": config.maxMessageBytes,
      "grpc.max_send_message_length": config.maxMessageBytes,
      "grpc.max_concurrent_streams": config.maxStreamsPerConnection,
      "grpc.keepalive_time_ms": config.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": config.keepaliveTimeoutMs,
      // Nobody reads channelz here, and its per-call bookkeeping shows in Run's cost.
      "grpc.enable_channelz": 0,
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
    const policy = config.policyFile ? loadPolicy(config.policyFile) : OPEN_POLICY;
    const ownerUids = [...new Set([0, process.geteuid?.() ?? 0])];
    const hooks: RpcHooks = { log, gate: new Authenticator(policy, ownerUids), slots: this.slots };
    const dirs = pinDirs(config.stateDir, config.netnsDir);
    // Pins may always be named by path, wherever the state dir is.
    const resolver = new NamespaceResolver(this.handles, [...config.pathRoots, dirs.ns, ...(dirs.netns ? [dirs.netns] : [])]);
    const pins = new NamespacePins(resolver, dirs);
    const limits = new NamespaceLimits(resolver, config.childTimeoutMs);
    const ids = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
    new NamespaceService({ handles: this.handles, resolver, limits, ids, childTimeoutMs: config.childTimeoutMs, pins }).addTo(this.server, hooks);
    new ProcessService({ resolver, ids }).addTo(this.server, hooks);
    new MountService({ resolver, childTimeoutMs: config.childTimeoutMs, sourceRoots: config.mountSourceRoots }).addTo(this.server, hooks);
  }

  /** Binds every listener and starts serving; resolves to the bound addresses (a TCP port 0 replaced by the real one). */
  async start(): Promise<string[]> {
    const gid = this.config.socketGroup !== undefined ? groupId(this.config.socketGroup) : undefined;
    for (const address of new Set(this.config.listen)) {
      const socketPath = unixSocketPath(address);
      const listener = socketPath
        ? await listenUnix(this.server, socketPath, gid, this.log)
        : await listenTcp(this.server, address, tcpCredentials(address, this.config.tls, this.config.insecureLoopback));
      this.listeners.push(listener);
    }
    const bound = this.listeners.map((listener) => listener.address);
    this.log.info({ listen: bound }, "lxnsd serving");
    return bound;
  }

  /** Stops accepting calls, waits up to `graceMs` for those in flight, then releases every handle and socket. */
  async stop(graceMs = 5000): Promise<void> {
    this.listeners.forEach((listener) => listener.close());
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
    this.log.info("lxnsd stopped");
  }
}
