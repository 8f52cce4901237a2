import type { ChildProcess } from "node:child_process";

/**
 * Processes the helpers started (targets, daemon processes), until they exit.
 * test/helpers/environment.js kills what is left when a test file ends, whatever
 * failed, so that no later file counts them and jest never waits on them.
 */
const live = new Map<ChildProcess, number[]>();

/** Tracks PROC, and PIDS besides it (a target's sleep in a pid namespace of its own), until PROC exits. */
export function trackChild(proc: ChildProcess, pids: number[] = []): void {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  live.set(proc, pids);
  proc.once("exit", () => live.delete(proc));
}

/** Adds PID to what is killed with PROC. */
export function trackAlso(proc: ChildProcess, pid: number): void {
  live.get(proc)?.push(pid);
}

/** SIGKILLs every tracked process still running and waits for each to exit; returns how many there were. */
export async function killLeftovers(): Promise<number> {
  const left = [...live.entries()];
  await Promise.all(
    left.map(([proc, pids]) => {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      for (const pid of [proc.pid!, ...pids]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      return exited;
    }),
  );
  return left.length;
}

// test/helpers/environment.js calls this once the test file's own hooks are
// done (a setup file's afterAll would run before the file's top-level ones).
(globalThis as { __lxnsdKillLeftovers?: () => Promise<number> }).__lxnsdKillLeftovers = killLeftovers;
