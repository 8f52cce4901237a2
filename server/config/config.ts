import { defaultAddress } from "../../api/default-address";
import { DEFAULT_NETNS_DIR, DEFAULT_STATE_DIR } from "../../api/pin-paths";
import type { TlsFiles } from "../listeners/tcp-listener";

/** Everything the daemon can be told at start. */
export interface DaemonConfig {
  /** gRPC listeners: `unix:PATH` or `HOST:PORT`. */
  listen: string[];
  /** Most handles open at once. */
  maxHandles: number;
  /** Lease of a handle when the caller names none, in ms. */
  defaultLeaseMs: number;
  /** Longest lease a caller may ask for, in ms. */
  maxLeaseMs: number;
  /**
   * Directories whose entries (DIR/NAME, one level) NamespaceRef.path may name, besides
   * /proc/PID/ns/TYPE and the pin directories (`<stateDir>/ns`, netnsDir), which it always may.
   */
  pathRoots: string[];
  /** Directories BindMount sources must be in; ["/"] = anywhere. */
  mountSourceRoots: string[];
  /** How long a per-request child may run before it is killed, in ms (for Run/Exec: the steps before execve). */
  childTimeoutMs: number;
  /** The cgroup v2 directory under which each program gets a cgroup of its own; unset = `<the daemon's cgroup>/lxnsd-programs`. */
  programCgroup?: string;
  /** Test only (no flag): the per-request child of every Run/Exec sleeps this long before its program starts, a pre-exec step that hangs. */
  testPreExecSleepMs?: number;
  /** Where the daemon keeps what outlives it: pins under `<stateDir>/ns`. */
  stateDir: string;
  /** Where network namespaces are pinned as well, for `ip netns`; "" = nowhere else. */
  netnsDir: string;
  /** kubelet's pod log directory (/var/log/pods): pod namespaces and names for container references; "" = none. */
  podLogDir: string;
  logLevel: string;
  /**
   * Where audit lines go, whatever logLevel says: "stderr", "off" or a file path (appended to).
   * Unset: into the daemon's log (in-process daemons, tests); lxnsd's --audit-log defaults to "stderr".
   */
  auditLog?: string;
  /** Group of unix sockets (name or gid); unset = the daemon's group. */
  socketGroup?: string;
  /** TLS of TCP listeners; without it only --insecure-loopback plaintext on loopback. */
  tls?: TlsFiles;
  /** Allows plaintext TCP listeners on 127.0.0.1/[::1]. */
  insecureLoopback: boolean;
  /** Policy file (JSON or YAML); unset = whoever can open the unix socket holds every scope. */
  policyFile?: string;
  /** Most calls running children at once, and most waiting for a slot. */
  maxChildren: number;
  maxQueue: number;
  /** Most handles one identity holds (default 256, a quarter of the default maxHandles). */
  maxHandlesPerIdentity: number;
  /** Largest message received or sent, in bytes. */
  maxMessageBytes: number;
  /** Most bytes one FileService ReadFile answers. */
  maxFileBytes: number;
  /** Most concurrent calls on one connection (HTTP/2 streams). */
  maxStreamsPerConnection: number;
  /** Most connections open at once, over every listener; past it a new one is closed at accept. */
  maxConnections: number;
  /** Most connections of one peer (a unix uid, a TCP client address); past it a new one is closed at accept. */
  maxConnectionsPerPeer: number;
  /** grpc-js's grpc-node.max_session_memory: node's HTTP/2 maxSessionMemory of each connection, in MB. */
  maxConnectionMemoryMb: number;
  /** Request messages being received on one connection, all its streams together, in MB (server/rpc/receive-budget.ts). */
  maxReceiveMemoryMb: number;
  /** Server keepalive ping interval and how long to wait for its answer, in ms. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /**
   * A connection without calls for this long is closed (GOAWAY; clients reconnect), in ms. Also what ends a
   * connection nghttp2's rapid-reset guard has cut off: node keeps those open with their socket otherwise.
   */
  maxConnectionIdleMs: number;
  /** How long in-flight calls may run on after SIGTERM/SIGINT before they are cancelled and their children killed, in ms. */
  shutdownGraceMs: number;
  /** HOST:PORT of the Prometheus endpoint (GET /metrics); "" = none. */
  metricsListen: string;
  /**
   * The CRI runtime asked for container and pod names, `unix:///PATH`; "" = none.
   * lxnsd's --cri-endpoint defaults to the first CRI socket that exists; here the default is "" (tests, embedders).
   */
  criEndpoint: string;
}

/** The directories whose entries NamespaceRef.path may name unless configured otherwise (ip netns's). */
export const DEFAULT_PATH_ROOTS = ["/run/netns", "/var/run/netns"];

/** A configuration with every default filled in, `overrides` applied. */
export function defaultConfig(overrides: Partial<DaemonConfig> = {}): DaemonConfig {
  return {
    listen: [defaultAddress()],
    maxHandles: 1024,
    defaultLeaseMs: 10 * 60 * 1000,
    maxLeaseMs: 24 * 60 * 60 * 1000,
    pathRoots: DEFAULT_PATH_ROOTS,
    childTimeoutMs: 10_000,
    mountSourceRoots: ["/"],
    stateDir: DEFAULT_STATE_DIR,
    netnsDir: DEFAULT_NETNS_DIR,
    podLogDir: "/var/log/pods",
    logLevel: "info",
    insecureLoopback: false,
    maxChildren: 256,
    maxQueue: 1024,
    // Well below maxHandles, so that one identity cannot take every handle: four such identities can fill the table.
    maxHandlesPerIdentity: 256,
    maxMessageBytes: 16 * 1024 * 1024,
    maxFileBytes: 64 * 1024 * 1024,
    maxStreamsPerConnection: 256,
    maxConnections: 1024,
    maxConnectionsPerPeer: 64,
    maxConnectionMemoryMb: 64,
    maxReceiveMemoryMb: 16,
    keepaliveTimeMs: 2 * 60 * 60 * 1000,
    keepaliveTimeoutMs: 20_000,
    maxConnectionIdleMs: 5 * 60 * 1000,
    shutdownGraceMs: 10_000,
    metricsListen: "",
    criEndpoint: "",
    ...overrides,
  };
}
