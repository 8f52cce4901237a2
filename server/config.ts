import { defaultAddress } from "../client/default-address";

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
  /** How long a per-request child may run before it is killed, in ms. */
  childTimeoutMs: number;
  /** Where the daemon keeps what outlives it: pins under `<stateDir>/ns`. */
  stateDir: string;
  /** Where network namespaces are pinned as well, for `ip netns`; "" = nowhere else. */
  netnsDir: string;
  logLevel: string;
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
    stateDir: "/run/lxnsd",
    netnsDir: "/run/netns",
    logLevel: "info",
    shutdownGraceMs: 10_000,
    metricsListen: "",
    ...overrides,
  };
}
