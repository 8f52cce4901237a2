// A program on a terminal (ExecSpec.tty), measured against the floor in one
// run: the echo round trip (one byte typed on the terminal, its echo read
// back, through the daemon both ways) against an empty grpc-js unary call,
// turns taken in blocks as the main bench does; and the daemon's memory
// with 64 idle tty sessions open (VmRSS before and with them). Root only.
//
//   npm run bench:tty      (compiles bench/ and what it imports into dist/)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../client";
import type { ExecSession, LxnsdClient } from "../client";
import { floorClient } from "./floor";
import { startDaemonProcess, startFloorProcess } from "./processes";
import { statusMiB } from "./proc-memory";
import { interleavedSamples, summarize } from "./stats";

const ROUNDS = 2000;
const WARMUP = 100;
const BLOCK = 10;
const IDLE_SESSIONS = 64;
/** Target: the echo round trip's p50 at most this many times the floor's. */
const ECHO_GOAL = 2;

/** A tty session of `cat`, with a way to type one byte and wait for its echo. */
function echoSession(client: LxnsdClient): { session: ExecSession; echo: () => Promise<void>; ready: Promise<unknown> } {
  const session = client.exec({ argv: ["cat"], tty: true, terminalSize: { rows: 24, cols: 80 } });
  let waiter: (() => void) | undefined;
  void (async () => {
    for await (const _chunk of session.output) {
      const wake = waiter;
      waiter = undefined;
      wake?.();
    }
  })().catch(() => {});
  const echo = () =>
    new Promise<void>((resolve) => {
      waiter = resolve;
      void session.write("x");
    });
  return { session, echo, ready: session.started };
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) throw new Error("bench:tty must run as root");
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-tty-"));
  const daemon = await startDaemonProcess(dir);
  const floor = await startFloorProcess(dir);
  const client = createClient(daemon.address);
  const floorCalls = floorClient(floor.address);
  const sessions: ExecSession[] = [];
  try {
    const { session, echo, ready } = echoSession(client);
    sessions.push(session);
    await ready;
    const [echoes, floors] = await interleavedSamples([echo, floorCalls.call], ROUNDS, WARMUP, BLOCK);
    const e = summarize(echoes);
    const f = summarize(floors);
    const ratio = e.p50 / f.p50;
    console.log(`echo round trip on a terminal: p50 ${e.p50.toFixed(3)} ms, p99 ${e.p99.toFixed(3)} ms`);
    console.log(`floor (empty grpc-js unary call): p50 ${f.p50.toFixed(3)} ms, p99 ${f.p99.toFixed(3)} ms`);
    console.log(`echo p50 / floor p50 = ${ratio.toFixed(2)} (target <= ${ECHO_GOAL}): ${ratio <= ECHO_GOAL ? "met" : "NOT met"}`);
    session.cancel();

    const before = statusMiB(daemon.pid, "VmRSS");
    for (let i = 0; i < IDLE_SESSIONS; i++) {
      const idle = client.exec({ argv: ["sh", "-i"], env: ["PATH=/usr/bin:/bin", "PS1=$ "], tty: true, terminalSize: { rows: 24, cols: 80 } });
      sessions.push(idle);
      void idle.wait().catch(() => {});
      await idle.started;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const withSessions = statusMiB(daemon.pid, "VmRSS");
    console.log(`daemon VmRSS: ${before.toFixed(1)} MiB before, ${withSessions.toFixed(1)} MiB with ${IDLE_SESSIONS} idle tty sessions (+${(withSessions - before).toFixed(1)} MiB)`);
  } finally {
    for (const session of sessions) session.cancel();
    client.disconnect();
    floorCalls.close();
    await daemon.stop();
    await floor.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
