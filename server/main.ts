#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import * as path from "node:path";
import pino from "pino";
import { defaultAddress } from "../client/default-address";
import { DEFAULT_PATH_ROOTS, defaultConfig } from "./config";
import { Daemon } from "./daemon";
import type { TlsFiles } from "./listeners/tcp-listener";

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

function collectAbsolute(value: string, previous: string[] | undefined): string[] {
  if (!path.isAbsolute(value) || path.posix.normalize(value) !== value) throw new InvalidArgumentError("must be an absolute, normalized path");
  return collect(value, previous);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const program = new Command()
  .name("lxnsd")
  .description("Linux namespaces behind a typed gRPC API (lxnsd.v1): inspect, list, hold, create, pin and limit namespaces, run programs in them, bind-mount into them.")
  .option("--listen <address>", `listen on ADDRESS: unix:PATH or HOST:PORT; repeatable (default: ${defaultAddress()})`, collect)
  .option("--socket-group <group>", "group (name or gid) of unix sockets, which are mode 0660 (default: the daemon's group)")
  .option("--tls-cert <file>", "PEM certificate chain of TCP listeners")
  .option("--tls-key <file>", "PEM private key of TCP listeners")
  .option("--tls-client-ca <file>", "PEM CA of client certificates: TCP listeners require mutual TLS")
  .option("--insecure-loopback", "allow plaintext TCP listeners on 127.0.0.1/[::1] (no TLS)", false)
  .option("--policy <file>", "identities, scopes and target rules (JSON or YAML); without it whoever can open the unix socket holds every scope")
  .option("--max-handles <n>", "most namespace handles open at once", positiveInt, 1024)
  .option("--handle-lease <seconds>", "lease of a handle when the caller names none", positiveInt, 600)
  .option("--max-handle-lease <seconds>", "longest lease a caller may ask for", positiveInt, 86400)
  .option("--ns-path-root <dir>", `a root under which NamespaceRef.path may point; repeatable (default: ${DEFAULT_PATH_ROOTS.join(", ")})`, collect)
  .option("--mount-source-root <dir>", "a directory BindMount sources must be in; repeatable (default: / = anywhere)", collectAbsolute)
  .option("--state-dir <dir>", "where pins live (<dir>/ns/NAME); they outlive the daemon", "/run/lxnsd")
  .option("--netns-dir <dir>", 'where network namespaces are pinned as well, for `ip netns` ("" = only under the state dir)', "/run/netns")
  .option("--child-timeout <ms>", "how long a per-request child may run before it is killed", positiveInt, 10000)
  .option("--max-children <n>", "most calls running a program or per-request child at once", positiveInt, 256)
  .option("--max-queue <n>", "most calls waiting for --max-children; beyond it RESOURCE_EXHAUSTED", nonNegativeInt, 1024)
  .option("--max-handles-per-identity <n>", "most handles one identity holds", positiveInt, 1024)
  .option("--max-message-bytes <n>", "largest gRPC message received or sent", positiveInt, 16 * 1024 * 1024)
  .option("--max-streams-per-connection <n>", "most concurrent calls on one connection", positiveInt, 256)
  .option("--keepalive-time <seconds>", "interval of keepalive pings to idle clients", positiveInt, 7200)
  .option("--keepalive-timeout <seconds>", "how long a keepalive ping may go unanswered before the connection is closed", positiveInt, 20)
  .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"))
  .showHelpAfterError();

function tlsFiles(options: { tlsCert?: string; tlsKey?: string; tlsClientCa?: string }): TlsFiles {
  const { tlsCert: cert, tlsKey: key } = options;
  if (!cert || !key) return program.error("lxnsd: --tls-cert and --tls-key go together", { exitCode: 2 });
  return { cert, key, ...(options.tlsClientCa ? { clientCa: options.tlsClientCa } : {}) };
}

async function main(): Promise<void> {
  const options = program.parse().opts();
  const log = pino({ level: options.logLevel, base: { service: "lxnsd" } }, pino.destination(2));
  const config = defaultConfig({
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.nsPathRoot ? { pathRoots: options.nsPathRoot } : {}),
    ...(options.mountSourceRoot ? { mountSourceRoots: options.mountSourceRoot } : {}),
    maxHandles: options.maxHandles,
    defaultLeaseMs: options.handleLease * 1000,
    maxLeaseMs: options.maxHandleLease * 1000,
    childTimeoutMs: options.childTimeout,
    stateDir: options.stateDir,
    netnsDir: options.netnsDir,
    logLevel: options.logLevel,
    ...(options.socketGroup !== undefined ? { socketGroup: options.socketGroup } : {}),
    ...(options.tlsCert || options.tlsKey || options.tlsClientCa ? { tls: tlsFiles(options) } : {}),
    insecureLoopback: options.insecureLoopback,
    ...(options.policy !== undefined ? { policyFile: options.policy } : {}),
    maxChildren: options.maxChildren,
    maxQueue: options.maxQueue,
    maxHandlesPerIdentity: options.maxHandlesPerIdentity,
    maxMessageBytes: options.maxMessageBytes,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    keepaliveTimeMs: options.keepaliveTime * 1000,
    keepaliveTimeoutMs: options.keepaliveTimeout * 1000,
  });
  let daemon: Daemon;
  try {
    daemon = new Daemon(config, log);
  } catch (err) {
    // A configuration it cannot serve, e.g. an invalid policy file.
    log.fatal({ err }, (err as Error).message);
    process.stderr.write(`lxnsd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // Before start(): a SIGTERM right after "lxnsd serving" is logged must still stop it cleanly.
  let stopping = false;
  let started: Promise<unknown> = Promise.resolve();
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    // A start that fails exits 1 below.
    started.then(() => daemon.stop().then(() => process.exit(0)), () => {});
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  started = daemon.start();
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
