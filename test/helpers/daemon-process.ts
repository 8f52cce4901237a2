import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import * as path from "node:path";

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

/** Starts `node dist/server/main.js ARGS`, optionally under a wrapper command (setpriv, prlimit). */
export function spawnDaemon(args: string[], options: { wrapper?: string[]; env?: NodeJS.ProcessEnv } = {}): DaemonProcess {
  const command = [...(options.wrapper ?? []), process.execPath, DAEMON_MAIN, ...args];
  const spawnOptions: SpawnOptions = { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env };
  const proc = spawn(command[0], command.slice(1), spawnOptions);
  let stderr = "";
  const exited = new Promise<number | string>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
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
