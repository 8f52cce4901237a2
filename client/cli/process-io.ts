import { constants } from "node:os";
import type { Writable } from "node:stream";

/** The signals lxnsctl passes on to the program it runs (as nsenter's --fork parent does). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Writes to a Node stream with backpressure: resolves once the stream takes
 * more (at once, or at 'drain'), rejects when the write fails (EPIPE when the
 * reader went away). main.ts passes these for process.stdout and process.stderr.
 */
export function streamWriter(stream: Writable): (data: Uint8Array) => Promise<void> {
  // Without a listener a failed write (EPIPE) would be an uncaught exception; the write's callback reports it.
  stream.on("error", () => undefined);
  return (data) =>
    new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        stream.off("drain", onDrain);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => settle();
      const ok = stream.write(data, (err) => {
        if (err) settle(err);
      });
      if (ok) settle();
      else stream.once("drain", onDrain);
    });
}

/** Subscribes `listener` to FORWARDED_SIGNALS on process; returns the unsubscribe. */
export function processSignals(listener: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of FORWARDED_SIGNALS) process.on(signal, listener);
  return () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, listener);
  };
}

/** Signals a Node.js process cannot die of by kill(self): ignored (SIGPIPE), or taken by Node itself (SIGUSR1 starts the inspector). */
const NOT_RERAISED = new Set(["SIGPIPE", "SIGUSR1", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT", "SIGCHLD", "SIGURG", "SIGWINCH"]);

/**
 * Dies of `signal` as the program did, as nsenter does: stdin's terminal
 * mode is restored first, lxnsctl's own listeners for it removed, then it
 * is sent to lxnsctl itself. Returns (the caller then exits 128 + signal)
 * for signals a Node.js process would not die of.
 */
export function reraise(signal: number): void {
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  if (name === undefined || NOT_RERAISED.has(name)) return;
  const stdin = process.stdin as { isTTY?: boolean; setRawMode?(raw: boolean): void };
  if (stdin.isTTY) stdin.setRawMode?.(false);
  process.removeAllListeners(name);
  process.kill(process.pid, name as NodeJS.Signals);
}
