import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import * as path from "node:path";
import { nodeAsUser } from "./as-user";
import { trackChild } from "./leftovers";

/** The compiled daemon, as `npm start` and the `lxnsd` bin run it (`npm test` builds it first). */
export const DAEMON_MAIN = path.join(__dirname, "..", "..", "dist", "server", "main.js");

/** A daemon running as a process of its own. */
export interface DaemonProcess {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far (its JSON log). */
  stderr(): string;
  /** Resolves with the addresses it listens on, once it serves; rejects if it exits first. */
  ready: Promise<string[]>;
  /** Resolves with its exit code (or signal name) once it exits. */
  exited: Promise<number | string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | string>;
}

/**
 * Starts `node dist/server/main.js ARGS`, optionally under a wrapper command
 * (prlimit), or as another user with no capabilities (`user`: see nodeAsUser).
 * A daemon still running when its test file ends is killed (test/helpers/environment.js).
 */
export function spawnDaemon(args: string[], options: { wrapper?: string[]; user?: number; env?: NodeJS.ProcessEnv } = {}): DaemonProcess {
  const asUser = options.user === undefined ? undefined : nodeAsUser(options.user, DAEMON_MAIN, args);
  const command = [...(options.wrapper ?? []), ...(asUser?.argv ?? [process.execPath, DAEMON_MAIN, ...args])];
  const spawnOptions: SpawnOptions = { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env };
  const proc = spawn(command[0], command.slice(1), spawnOptions);
  trackChild(proc);
  let stderr = "";
  const exited = new Promise<number | string>((resolve) =>
    proc.once("exit", (code, signal) => {
      asUser?.done();
      resolve(code ?? signal ?? -1);
    }),
  );
  const ready = new Promise<string[]>((resolve, reject) => {
    // Only the lines not yet looked at, and none once it serves: a busy daemon logs megabytes.
    let scanned = 0;
    let serving = false;
    proc.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (serving) return;
      const end = stderr.lastIndexOf("\n");
      if (end < scanned) return;
      for (const line of stderr.slice(scanned, end).split("\n")) {
        if (!line.includes('"lxnsd serving"')) continue;
        serving = true;
        resolve(JSON.parse(line).listen as string[]);
      }
      scanned = end + 1;
    });
    void exited.then((code) => reject(new Error(`lxnsd exited (${code}) before serving:\n${stderr}`)));
  });
  ready.catch(() => {});
  return {
    proc,
    stderr: () => stderr,
    ready,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}
