// The servers under test, each a process of its own: the daemon as `npm start`
// runs it (dist/server/main.js) and the floor server.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import { createClient } from "../client";

/** A server process on a unix socket. */
export interface ServerProcess {
  address: string;
  pid: number;
  /** SIGTERM, then resolves once it exited. */
  stop(): Promise<void>;
}

const DAEMON_MAIN = path.join(__dirname, "..", "server", "main.js");
const FLOOR_MAIN = path.join(__dirname, "floor-server.js");

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once("exit", () => resolve())));
}

function serverProcess(address: string, proc: ChildProcess): ServerProcess {
  return {
    address,
    pid: proc.pid!,
    stop: async () => {
      proc.kill("SIGTERM");
      await exited(proc);
    },
  };
}

/** Rejects with `what` when `proc` exits before `ready` settles. */
function unlessExited<T>(proc: ChildProcess, what: string, ready: Promise<T>): Promise<T> {
  return Promise.race([ready, exited(proc).then(() => Promise.reject(new Error(`${what} exited before serving (${proc.exitCode ?? proc.signalCode})`)))]);
}

/**
 * Starts lxnsd listening on `unix:DIR/lxnsd.sock` with its state in DIR;
 * resolves once it answers. Logs at warn: a log line per call is not what is measured.
 * BENCH_DAEMON_NODE_ARGS (space-separated) go to its node, e.g. `--cpu-prof --cpu-prof-dir=DIR`.
 * `main`: another build's dist/server/main.js (an A/B comparison).
 */
export async function startDaemonProcess(dir: string, main = DAEMON_MAIN): Promise<ServerProcess> {
  const address = `unix:${path.join(dir, "lxnsd.sock")}`;
  const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const args = [...nodeArgs, main, "--listen", address, "--log-level", "warn", "--state-dir", path.join(dir, "state"), "--netns-dir", "", "--max-file-bytes", String(512 * 1024 * 1024)];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
  const client = createClient(address);
  try {
    await unlessExited(
      proc,
      "lxnsd",
      (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            await client.getCurrentNamespaces({}, { timeoutMs: 1000 });
            return;
          } catch (err) {
            if (attempt >= 100) throw err;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      })(),
    );
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  } finally {
    client.disconnect();
  }
  return serverProcess(address, proc);
}

/** Starts the floor server on `unix:DIR/floor.sock`; resolves once it serves. BENCH_FLOOR_NODE_ARGS as BENCH_DAEMON_NODE_ARGS. */
export async function startFloorProcess(dir: string): Promise<ServerProcess> {
  const address = `unix:${path.join(dir, "floor.sock")}`;
  const nodeArgs = (process.env.BENCH_FLOOR_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, FLOOR_MAIN, address], { stdio: ["ignore", "pipe", "inherit"] });
  await unlessExited(proc, "the floor server", new Promise<void>((resolve) => proc.stdout!.once("data", () => resolve())));
  return serverProcess(address, proc);
}
