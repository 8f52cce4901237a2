import { defaultAddress } from "../../api/default-address";
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
  /** Roots under which NamespaceRef.path may point. */
  pathRoots: string[];
  /** Directories BindMount sources must be in; ["/"] = anywhere. */
  mountSourceRoots: string[];
  /** How long a per-request child may run before it is killed, in ms. */
  childTimeoutMs: number;
  /** Where the daemon keeps what outlives it: pins under `<stateDir>/ns`. */
  stateDir: string;
  /** Where network namespaces are pinned as well, for `ip netns`; "" = nowhere else. */
  netnsDir: string;
  logLevel: string;
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
  /** Most handles one identity holds. */
  maxHandlesPerIdentity: number;
  /** Largest message received or sent, in bytes. */
  maxMessageBytes: number;
  /** Most concurrent calls on one connection (HTTP/2 streams). */
  maxStreamsPerConnection: number;
  /** Most connections open at once, over every listener; past it a new one is closed at accept. */
  maxConnections: number;
  /** Most connections of one peer (a unix uid, a TCP client address); past it a new one is closed at accept. */
  maxConnectionsPerPeer: number;
  /** grpc-js's grpc-node.max_session_memory: node's HTTP/2 maxSessionMemory of each connection, in MB. */
  maxConnectionMemoryMb: number;
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
}

/** The roots NamespaceRef.path may point under unless configured otherwise. */
export const DEFAULT_PATH_ROOTS = ["/proc", "/run/netns", "/var/run/netns", "/run/lxnsd"];

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
    stateDir: "/run/lxnsd",
    netnsDir: "/run/netns",
    logLevel: "info",
    insecureLoopback: false,
    maxChildren: 256,
    maxQueue: 1024,
    maxHandlesPerIdentity: 1024,
    maxMessageBytes: 16 * 1024 * 1024,
    maxStreamsPerConnection: 256,
    maxConnections: 1024,
    maxConnectionsPerPeer: 64,
    maxConnectionMemoryMb: 64,
    keepaliveTimeMs: 2 * 60 * 60 * 1000,
    keepaliveTimeoutMs: 20_000,
    maxConnectionIdleMs: 5 * 60 * 1000,
    shutdownGraceMs: 10_000,
    metricsListen: "",
    ...overrides,
  };
}
