import { constants } from "node:os";
import type { Writable } from "node:stream";

/** Bytes streamed (either way) between two young-generation collections, once enableMemoryNudges() ran. */
const NUDGE_EVERY = 4 * 1024 * 1024;
let nudges = false;
let collect: ((options: { type: "minor" }) => void) | undefined;
let sinceNudge = 0;

/**
 * Keeps lxnsctl's memory bounded while it streams (the bin calls this). V8
 * frees the ArrayBuffers of chunks already passed on only when it collects
 * the objects that hold them, and it counts their memory towards a
 * collection only every 64 MiB: piping 256 MiB took some 150 MiB of RSS.
 * With nudges, a young-generation collection runs every NUDGE_EVERY bytes
 * (a fraction of a millisecond each: the chunks are young garbage).
 */
export function enableMemoryNudges(): void {
  nudges = true;
}

/** V8's gc(), made at the first nudge (node:v8 and node:vm are not loaded before something streams). */
function gcFunction(): typeof collect {
  try {
    (require("node:v8") as typeof import("node:v8")).setFlagsFromString("--expose-gc");
    return (require("node:vm") as typeof import("node:vm")).runInNewContext("gc") as typeof collect;
  } catch {
    return undefined;
  }
}

/** Counts `bytes` streamed; collects young garbage every NUDGE_EVERY bytes when nudges are on. */
export function streamed(bytes: number): void {
  if (!nudges) return;
  sinceNudge += bytes;
  if (sinceNudge < NUDGE_EVERY) return;
  sinceNudge = 0;
  collect ??= gcFunction();
  collect?.({ type: "minor" });
}

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
  return (data) => {
    streamed(data.byteLength);
    return new Promise((resolve, reject) => {
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
  };
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
