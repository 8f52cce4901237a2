#!/usr/bin/env node
import { LXNSD_VERSION } from "../api/version";
import { CommanderError, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { defaultAddress } from "../api/default-address";
import { DEFAULT_NETNS_DIR, DEFAULT_STATE_DIR } from "../api/pin-paths";
import { PolicyError } from "./auth/policy";
import { DEFAULT_PATH_ROOTS, defaultConfig } from "./config/config";
import { Daemon } from "./daemon";
import { isAbsoluteNormalized } from "./rpc/paths";
import { auditDestinationProblem } from "./ops/audit-log";
import { MIN_MAX_MESSAGE_BYTES, RUN_ANSWER_OVERHEAD, messageLimitProblem } from "./programs/output-limits";
import type { TlsFiles } from "./listeners/tcp-listener";
import { ConfigError, ConfigurableCommand, collect, parseWithSources } from "./config/option-sources";
import { DEFAULT_CRI_ENDPOINTS, defaultCriEndpoint, parseCriEndpoint } from "./containers/cri-endpoint";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function nonNegativeInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("must be an integer >= 0");
  return parsed;
}

function nonNegativeSeconds(value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < 0 || parsed > 86400) throw new InvalidArgumentError("must be a number of seconds from 0 to 86400");
  return parsed;
}

function criEndpoint(value: string): string {
  try {
    return parseCriEndpoint(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function collectAbsolute(value: string, previous: string[] | undefined): string[] {
  if (!isAbsoluteNormalized(value)) throw new InvalidArgumentError("must be an absolute, normalized path");
  return collect(value, previous);
}

const program = new ConfigurableCommand()
  .name("lxnsd")
  .version(`lxnsd ${LXNSD_VERSION}`, "-V, --version", "print the version and exit")
  .description("Linux namespaces behind a typed gRPC API (lxnsd.v1): inspect, list, hold, create, pin and limit namespaces, run programs in them, bind-mount into them.")
  .addOption(new Option("--config <file>", "read options from FILE, a JSON or YAML mapping of option names (without --) to values").env("LXNSD_CONFIG"))
  .option("--listen <address>", `listen on ADDRESS: unix:PATH or HOST:PORT (TCP: mutual TLS, or --insecure-loopback); repeatable (default: ${defaultAddress()})`, collect)
  .option("--socket-group <group>", "group (name or gid) of unix sockets, which are mode 0660 (default: the daemon's group)")
  .option("--tls-cert <file>", "PEM certificate chain of TCP listeners")
  .option("--tls-key <file>", "PEM private key of TCP listeners")
  .option("--tls-client-ca <file>", "PEM CA of client certificates: TCP listeners require mutual TLS")
  .option("--insecure-loopback", "allow plaintext TCP listeners on 127.0.0.1/[::1] (no TLS)", false)
  .option("--policy <file>", "identities, scopes and target rules (JSON or YAML); without it whoever can open the unix socket holds every scope")
  .option("--max-handles <n>", "most namespace handles open at once", positiveInt, 1024)
  .option("--max-handles-per-identity <n>", "most handles one identity holds (a quarter of the default --max-handles, so one identity cannot take them all)", positiveInt, 256)
  .option("--handle-lease <seconds>", "lease of a handle when the caller names none", positiveInt, 600)
  .option("--max-handle-lease <seconds>", "longest lease a caller may ask for", positiveInt, 86400)
  .option(
    "--ns-path-root <dir>",
    `a directory whose entries (DIR/NAME) NamespaceRef.path may name, besides /proc/PID/ns/TYPE and the pin directories; repeatable (default: ${DEFAULT_PATH_ROOTS.join(", ")})`,
    collectAbsolute,
  )
  .option("--mount-source-root <dir>", "a directory BindMount sources must be beneath (resolved once, openat2 RESOLVE_BENEATH); repeatable (default: / = anywhere)", collectAbsolute)
  .option("--state-dir <dir>", "where pins live (<dir>/ns/NAME); they outlive the daemon", DEFAULT_STATE_DIR)
  .option("--netns-dir <dir>", 'where network namespaces are pinned as well, for `ip netns` ("" = only under the state dir)', DEFAULT_NETNS_DIR)
  .option("--pod-log-dir <dir>", "kubelet's pod log directory, where container references find pod namespaces and names (\"\" = none)", "/var/log/pods")
  .option("--child-timeout <ms>", "how long a per-request child may run before it is killed (Run/Exec: the steps before execve)", positiveInt, 10000)
  .option("--program-cgroup <dir>", "cgroup v2 directory under which each Run/Exec program gets a cgroup of its own, ended with cgroup.kill (default: <the daemon's own cgroup v2>/lxnsd-programs)")
  .option("--max-children <n>", "most calls running a program, a per-request child or a file operation on a caller-named path at once (a call stuck on a hung mount keeps its slot)", positiveInt, 256)
  .option("--max-queue <n>", "most calls waiting for --max-children, all identities together; beyond it RESOURCE_EXHAUSTED. Slots go round-robin between identities, and a full queue refuses the longest queue's newest waiter for an identity with fewer", nonNegativeInt, 1024)
  .option(
    "--max-message-bytes <n>",
    `largest gRPC message received or sent; a Run may keep at most (n - ${RUN_ANSWER_OVERHEAD}) / 2 bytes of each of stdout and stderr (max_output_bytes), and n must be at least ${MIN_MAX_MESSAGE_BYTES} (the default 1 MiB of each)`,
    positiveInt,
    16 * 1024 * 1024,
  )
  .option("--max-file-bytes <n>", "most bytes one FileService ReadFile answers (a request's length may ask for less)", positiveInt, 64 * 1024 * 1024)
  .option("--max-streams-per-connection <n>", "most concurrent calls on one connection", positiveInt, 256)
  .option("--max-connections <n>", "most connections open at once, over every listener; past it a new one is closed at accept", positiveInt, 1024)
  .option("--max-connections-per-peer <n>", "most connections of one peer (a unix uid, a TCP client address); past it a new one is closed at accept", positiveInt, 64)
  .option("--max-connection-memory <MB>", "HTTP/2 memory one connection may hold in nghttp2 (node's maxSessionMemory: header tables, queued output); past it new streams are refused", positiveInt, 64)
  .option("--max-receive-memory <MB>", "request messages being received on one connection, all its streams together; past it streams in the middle of a message pause (flow control) until older messages are whole", positiveInt, 16)
  .option("--keepalive-time <seconds>", "interval of keepalive pings to idle clients", positiveInt, 7200)
  .option("--keepalive-timeout <seconds>", "how long a keepalive ping may go unanswered before the connection is closed", positiveInt, 20)
  .option("--max-connection-idle <seconds>", "close a connection that has had no call for this long (clients reconnect)", positiveInt, 300)
  .option("--shutdown-grace <seconds>", "on SIGTERM/SIGINT, how long in-flight calls may finish before they are cancelled and their programs killed (fractions allowed)", nonNegativeSeconds, 10)
  .option("--metrics-listen <host:port>", "serve Prometheus metrics on http://HOST:PORT/metrics (default: off)")
  .option(
    "--cri-endpoint <endpoint>",
    `the container runtime (CRI, unix:///PATH) asked for the names, pods, labels and states of containers; "" = none (default: the first that exists of ${DEFAULT_CRI_ENDPOINTS.join(", ")})`,
    criEndpoint,
  )
  .addOption(new Option("--log-level <level>", "log level (audit lines are not part of the log: see --audit-log)").choices(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"))
  .option(
    "--audit-log <destination>",
    "where the audit lines of calls that change anything go, whatever --log-level says: stderr, off, or an absolute file path (appended to, created mode 0600)",
    "stderr",
  )
  .addHelpText(
    "after",
    `
Every option can also be set by an environment variable (shown above) and by a
key of the --config file named as the option without its dashes, e.g.
  max-handles: 4096
  listen: [unix:/run/lxnsd/lxnsd.sock, "127.0.0.1:7443"]
Precedence: flag > environment > config file > default. A repeatable option
takes one value from its environment variable, a list from the file.`,
  )
  .exitOverride()
  .showHelpAfterError();

/** The options as commander's attribute names give them. */
interface DaemonFlags extends Record<string, unknown> {
  listen?: string[];
  socketGroup?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecureLoopback: boolean;
  policy?: string;
  maxHandles: number;
  maxHandlesPerIdentity: number;
  handleLease: number;
  maxHandleLease: number;
  nsPathRoot?: string[];
  mountSourceRoot?: string[];
  stateDir: string;
  netnsDir: string;
  podLogDir: string;
  childTimeout: number;
  programCgroup?: string;
  maxChildren: number;
  maxQueue: number;
  maxMessageBytes: number;
  maxFileBytes: number;
  maxStreamsPerConnection: number;
  maxConnections: number;
  maxConnectionsPerPeer: number;
  maxConnectionMemory: number;
  maxReceiveMemory: number;
  keepaliveTime: number;
  keepaliveTimeout: number;
  maxConnectionIdle: number;
  shutdownGrace: number;
  metricsListen?: string;
  criEndpoint?: string;
  logLevel: string;
  auditLog: string;
}

/** The TLS files of TCP listeners; a certificate and a key go together. */
function tlsFiles(options: DaemonFlags): TlsFiles | undefined {
  const { tlsCert: cert, tlsKey: key, tlsClientCa: clientCa } = options;
  if (!cert && !key && !clientCa) return undefined;
  if (!cert || !key) throw new ConfigError("--tls-cert and --tls-key go together");
  return { cert, key, ...(clientCa ? { clientCa } : {}) };
}

/** The parsed options, or the exit status after a bad command line (2) or --help (0). */
function parseOptions(): { options: DaemonFlags; tls?: TlsFiles } | number {
  try {
    const options = parseWithSources<DaemonFlags>(program);
    const problem = messageLimitProblem(options.maxMessageBytes) ?? auditDestinationProblem(options.auditLog);
    if (problem) throw new ConfigError(problem);
    return { options, tls: tlsFiles(options) };
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      process.stderr.write(`lxnsd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const parsed = parseOptions();
  if (typeof parsed === "number") {
    process.exitCode = parsed;
    return;
  }
  const { options, tls } = parsed;
  const log = pino({ level: options.logLevel, base: { service: "lxnsd" } }, pino.destination(2));
  const config = defaultConfig({
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.nsPathRoot ? { pathRoots: options.nsPathRoot } : {}),
    ...(options.mountSourceRoot ? { mountSourceRoots: options.mountSourceRoot } : {}),
    maxHandles: options.maxHandles,
    maxHandlesPerIdentity: options.maxHandlesPerIdentity,
    defaultLeaseMs: options.handleLease * 1000,
    maxLeaseMs: options.maxHandleLease * 1000,
    childTimeoutMs: options.childTimeout,
    ...(options.programCgroup !== undefined ? { programCgroup: options.programCgroup } : {}),
    stateDir: options.stateDir,
    netnsDir: options.netnsDir,
    podLogDir: options.podLogDir,
    logLevel: options.logLevel,
    auditLog: options.auditLog,
    ...(options.socketGroup !== undefined ? { socketGroup: options.socketGroup } : {}),
    ...(tls ? { tls } : {}),
    insecureLoopback: options.insecureLoopback,
    ...(options.policy !== undefined ? { policyFile: options.policy } : {}),
    maxChildren: options.maxChildren,
    maxQueue: options.maxQueue,
    maxMessageBytes: options.maxMessageBytes,
    maxFileBytes: options.maxFileBytes,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    maxConnections: options.maxConnections,
    maxConnectionsPerPeer: options.maxConnectionsPerPeer,
    maxConnectionMemoryMb: options.maxConnectionMemory,
    maxReceiveMemoryMb: options.maxReceiveMemory,
    keepaliveTimeMs: options.keepaliveTime * 1000,
    keepaliveTimeoutMs: options.keepaliveTimeout * 1000,
    maxConnectionIdleMs: options.maxConnectionIdle * 1000,
    shutdownGraceMs: Math.round(options.shutdownGrace * 1000),
    metricsListen: options.metricsListen ?? "",
    criEndpoint: options.criEndpoint ?? defaultCriEndpoint(),
  });
  let daemon: Daemon;
  try {
    daemon = new Daemon(config, log);
  } catch (err) {
    // A configuration it cannot serve: an invalid policy file is a configuration error (2), like a bad flag.
    log.fatal({ err }, (err as Error).message);
    process.stderr.write(`lxnsd: ${(err as Error).message}\n`);
    process.exit(err instanceof PolicyError ? 2 : 1);
  }
  const started = daemon.start();
  // Handled from the start: a SIGTERM right after "lxnsd serving" must not kill the process outright.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    // A start that fails exits 1 below.
    started.then(() => daemon.stop()).then(() => process.exit(0), () => {});
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  try {
    await started;
  } catch (err) {
    log.fatal({ err }, (err as Error).message);
    process.stderr.write(`lxnsd: ${(err as Error).message}\n`);
    await daemon.stop(0);
    process.exit(1);
  }
}

void main();
