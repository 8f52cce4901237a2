#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { defaultAddress } from "../client/default-address";
import { DEFAULT_PATH_ROOTS, defaultConfig } from "./config";
import { Daemon } from "./daemon";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const program = new Command()
  .name("lxnsd")
  .description("Linux namespaces behind a typed gRPC API (lxnsd.v1): inspect, list, hold, create, pin and limit namespaces, run programs in them, bind-mount into them.")
  .option("--listen <address>", `listen on ADDRESS: unix:PATH or HOST:PORT (loopback only); repeatable (default: ${defaultAddress()})`, collect)
  .option("--max-handles <n>", "most namespace handles open at once", positiveInt, 1024)
  .option("--handle-lease <seconds>", "lease of a handle when the caller names none", positiveInt, 600)
  .option("--max-handle-lease <seconds>", "longest lease a caller may ask for", positiveInt, 86400)
  .option("--ns-path-root <dir>", `a root under which NamespaceRef.path may point; repeatable (default: ${DEFAULT_PATH_ROOTS.join(", ")})`, collect)
  .option("--state-dir <dir>", "where pins live (<dir>/ns/NAME); they outlive the daemon", "/run/lxnsd")
  .option("--netns-dir <dir>", 'where network namespaces are pinned as well, for `ip netns` ("" = only under the state dir)', "/run/netns")
  .option("--child-timeout <ms>", "how long a per-request child may run before it is killed", positiveInt, 10000)
  .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"))
  .showHelpAfterError();

async function main(): Promise<void> {
  const options = program.parse().opts();
  const log = pino({ level: options.logLevel, base: { service: "lxnsd" } }, pino.destination(2));
  const config = defaultConfig({
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.nsPathRoot ? { pathRoots: options.nsPathRoot } : {}),
    maxHandles: options.maxHandles,
    defaultLeaseMs: options.handleLease * 1000,
    maxLeaseMs: options.maxHandleLease * 1000,
    childTimeoutMs: options.childTimeout,
    stateDir: options.stateDir,
    netnsDir: options.netnsDir,
    logLevel: options.logLevel,
  });
  const daemon = new Daemon(config, log);
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
