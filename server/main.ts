#!/usr/bin/env node
import { CommanderError, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { defaultAddress } from "../client/default-address";
import { DEFAULT_PATH_ROOTS, defaultConfig } from "./config";
import { Daemon } from "./daemon";
import { ConfigError, ConfigurableCommand, collect, parseWithSources } from "./option-sources";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function nonNegativeSeconds(value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < 0 || parsed > 86400) throw new InvalidArgumentError("must be a number of seconds from 0 to 86400");
  return parsed;
}

const program = new ConfigurableCommand()
  .name("lxnsd")
  .description("Linux namespaces behind a typed gRPC API (lxnsd.v1): inspect, list, hold, create, pin and limit namespaces, run programs in them, bind-mount into them.")
  .addOption(new Option("--config <file>", "read options from FILE, a JSON or YAML mapping of option names (without --) to values").env("LXNSD_CONFIG"))
  .option("--listen <address>", `listen on ADDRESS: unix:PATH or HOST:PORT (loopback only); repeatable (default: ${defaultAddress()})`, collect)
  .option("--max-handles <n>", "most namespace handles open at once", positiveInt, 1024)
  .option("--handle-lease <seconds>", "lease of a handle when the caller names none", positiveInt, 600)
  .option("--max-handle-lease <seconds>", "longest lease a caller may ask for", positiveInt, 86400)
  .option("--ns-path-root <dir>", `a root under which NamespaceRef.path may point; repeatable (default: ${DEFAULT_PATH_ROOTS.join(", ")})`, collect)
  .option("--state-dir <dir>", "where pins live (<dir>/ns/NAME); they outlive the daemon", "/run/lxnsd")
  .option("--netns-dir <dir>", 'where network namespaces are pinned as well, for `ip netns` ("" = only under the state dir)', "/run/netns")
  .option("--child-timeout <ms>", "how long a per-request child may run before it is killed", positiveInt, 10000)
  .option("--shutdown-grace <seconds>", "on SIGTERM/SIGINT, how long in-flight calls may finish before they are cancelled and their programs killed (fractions allowed)", nonNegativeSeconds, 10)
  .option("--metrics-listen <host:port>", "serve Prometheus metrics on http://HOST:PORT/metrics (default: off)")
  .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"))
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
  maxHandles: number;
  handleLease: number;
  maxHandleLease: number;
  nsPathRoot?: string[];
  stateDir: string;
  netnsDir: string;
  childTimeout: number;
  shutdownGrace: number;
  metricsListen?: string;
  logLevel: string;
}

/** The parsed options, or the exit status after a bad command line (2) or --help (0). */
function parseOptions(): DaemonFlags | number {
  try {
    return parseWithSources<DaemonFlags>(program);
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
  const options = parseOptions();
  if (typeof options === "number") {
    process.exitCode = options;
    return;
  }
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
    shutdownGraceMs: Math.round(options.shutdownGrace * 1000),
    metricsListen: options.metricsListen ?? "",
  });
  const daemon = new Daemon(config, log);
  const started = daemon.start();
  // Handled from the start: a SIGTERM right after "lxnsd serving" must not kill the process outright.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
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
