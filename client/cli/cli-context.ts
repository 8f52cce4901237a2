import type { Readable } from "node:stream";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import type { ClientOptions, LxnsdClient } from "../create-client";
import { UsageError } from "./usage-error";
import { pinDirsOf } from "./pin-dirs";
import type { CliPinDirs } from "./pin-dirs";
import { defaultAddress } from "../../api/default-address";
import type { CallOptions } from "../rpc/call-options";
import type { CallContext } from "./plain-errors";

/** Where the CLI reads its environment and writes its output; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Environment (LXNSD_ADDRESS); process.env by default. */
  env?: Record<string, string | undefined>;
  /** Makes the client; createClient by default. Tests pass a fake to see the requests. */
  connect?(address: string, options: ClientOptions): LxnsdClient;
  /** What exec and `unshare -- CMD` feed the program's stdin; without it the program's stdin is closed at once. */
  stdin?: Readable;
  /**
   * Writes a chunk of the program's output, resolving when the destination
   * takes more (backpressure); without it chunks go to stdout()/stderr() as text.
   */
  writeOutput?(stream: "stdout" | "stderr", data: Uint8Array): Promise<void>;
  /**
   * Calls `listener` for each SIGINT, SIGTERM and SIGHUP lxnsctl receives while
   * a program runs (to forward them); returns the unsubscribe. None when unset.
   */
  onSignal?(listener: (signal: NodeJS.Signals) => void): () => void;
  /**
   * Told when the program was killed by signal `signal` (run() still
   * resolves to 128 + signal): the bin re-raises it on lxnsctl itself, as
   * nsenter does, so that shells and subprocess see a death by that signal.
   */
  programKilledBy?(signal: number): void;
  /** The terminal's width when stdout is a terminal: tables are cut to it, as lsns does. */
  columns?: number;
  /** lxnsctl's own terminal, for programs run on a terminal (exec, unshare -- CMD); none: never a terminal by default. */
  terminal?: LocalTerminal;
}

/** What lxnsctl needs of the terminal it runs in (main.ts: process.stdin and process.stdout). */
export interface LocalTerminal {
  /** stdin and stdout are both terminals: programs get a terminal unless --no-tty. */
  readonly interactive: boolean;
  /** The window's size, when stdout is a terminal. */
  size(): { rows: number; cols: number } | undefined;
  /** Puts stdin in raw mode, when it is a terminal; returns what restores it (idempotent; also run at process exit). */
  enterRaw(): () => void;
  /** Calls `listener` on every window size change (SIGWINCH); returns the unsubscribe. */
  onResize(listener: () => void): () => void;
}

/** The program-wide options. */
export interface GlobalOptions {
  address?: string;
  tokenFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  json?: boolean;
  timeout?: number;
  stateDir?: string;
  netnsDir?: string;
}

/**
 * What a command's action needs: one lazily made client (disconnected by
 * run() when the command is done), call options from --timeout, and output
 * that is either human text or the response as protobuf JSON (--json).
 */
export class CliContext {
  private client?: LxnsdClient;
  /** The status run() returns; commands that go on past a failure set it to 1. */
  exitCode = 0;
  /** The address and --timeout of the call, for report(). */
  private readonly call: CallContext = {};

  constructor(readonly io: CliIo) {}

  /** The global options as parsed for `command` (a subcommand of the program). */
  globals(command: Command): GlobalOptions {
    return command.optsWithGlobals<GlobalOptions>();
  }

  /** The daemon address: --address, else $LXNSD_ADDRESS, else the default listener. */
  address(command: Command): string {
    const env = this.io.env ?? process.env;
    return this.globals(command).address ?? (env.LXNSD_ADDRESS || defaultAddress());
  }

  /** The daemon's pin directories: --state-dir and --netns-dir, else LXNSD_STATE_DIR and LXNSD_NETNS_DIR, else its defaults. */
  pinDirs(command: Command): CliPinDirs {
    return pinDirsOf(this.globals(command), this.io.env ?? process.env);
  }

  /** The client, connected on first use. */
  connect(command: Command): LxnsdClient {
    this.call.address ??= this.address(command);
    // grpc-js is loaded only by a command that calls the daemon (not by --help, --version or a usage error).
    this.client ??= (this.io.connect ?? (require("../create-client") as typeof import("../create-client")).createClient)(this.address(command), this.clientOptions(command));
    return this.client;
  }

  /** Token and TLS from the flags, else from LXNSD_TOKEN and LXNSD_TLS_*. */
  clientOptions(command: Command): ClientOptions {
    const env = this.io.env ?? process.env;
    const globals = this.globals(command);
    const file = (flag: string | undefined, name: string) => {
      const value = flag ?? (env[name] || undefined);
      return value === undefined ? undefined : readPem(value, name);
    };
    const token = globals.tokenFile !== undefined ? readToken(globals.tokenFile) : env.LXNSD_TOKEN || undefined;
    const ca = file(globals.tlsCa, "LXNSD_TLS_CA");
    const cert = file(globals.tlsCert, "LXNSD_TLS_CERT");
    const key = file(globals.tlsKey, "LXNSD_TLS_KEY");
    const serverName = globals.tlsServerName ?? (env.LXNSD_TLS_SERVER_NAME || undefined);
    const tls = ca || cert || key || serverName ? { ca, cert, key, serverName } : undefined;
    return { ...(token !== undefined ? { token } : {}), ...(tls ? { tls } : {}) };
  }

  /** Per-call options from --timeout. */
  callOptions(command: Command): CallOptions {
    const timeout = this.globals(command).timeout;
    this.call.timeoutMs = timeout;
    return timeout === undefined ? {} : { timeoutMs: timeout };
  }

  /** Writes `response` as JSON under --json, else the text `human` makes of it. */
  print<Desc extends DescMessage>(command: Command, schema: Desc, response: MessageShape<Desc>, human: (response: MessageShape<Desc>) => string): void {
    // format.ts and plain-errors.ts load protobuf-es: only once there is something to say (not for --help).
    this.io.stdout(this.globals(command).json ? (require("./format") as typeof import("./format")).formatJson(schema, response) : human(response));
  }

  /** Reports a failed call on stderr as `lxnsctl: CODE: message` and marks the run failed. */
  report(err: unknown): void {
    this.io.stderr(`lxnsctl: ${(require("./plain-errors") as typeof import("./plain-errors")).plainMessage(err, this.call)}\n`);
    this.exitCode = 1;
  }

  /** Closes the client's channel, if one was made. */
  dispose(): void {
    this.client?.disconnect();
    this.client = undefined;
  }
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** The token in a file, without the trailing newline `echo` leaves. */
function readToken(file: string): string {
  const token = readPem(file, "--token-file").toString("utf8").trim();
  if (token === "") throw new UsageError(`--token-file ${file} is empty`);
  return token;
}
