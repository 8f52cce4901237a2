import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { trackAlso, trackChild } from "./leftovers";
import { nsInode, waitFor } from "./proc";

/** A process the test started, sleeping in namespaces of its own. */
export interface Target {
  /** The sleeping process (for --fork, the forked child, inside the new pid namespace). */
  pid: number;
  /** The launcher (unshare or setpriv). */
  launcher: ChildProcess;
  kill(): Promise<void>;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The launcher and all its descendants, breadth first. */
function family(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]));
  return all;
}

/** Whether `pid` has exited: gone, or a zombie (its exit, and a pid namespace init's teardown, are done). */
function hasExited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

function sleeping(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep";
  } catch {
    return false;
  }
}

/**
 * Starts `sleep` at the end of a launcher command line (`unshare ...`,
 * `setpriv ... unshare ...`, nested unshares) and resolves once the sleep,
 * the launcher itself or a descendant (with --fork), runs. A target still
 * alive when its test file ends is killed (test/helpers/environment.js).
 */
export async function startTarget(command: string[]): Promise<Target> {
  // stderr is kept for the error below, not echoed: util-linux complains when its child is SIGKILLed.
  const launcher = spawn(command[0], [...command.slice(1), "sleep", "1000"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  launcher.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  trackChild(launcher);
  const launcherPid = launcher.pid!;
  let pid = 0;
  await waitFor(
    () => {
      pid = family(launcherPid).find(sleeping) ?? 0;
      return pid !== 0;
    },
    5000,
    `target ${command.join(" ")}`,
  ).catch((err: Error) => {
    launcher.kill("SIGKILL");
    throw new Error(`${err.message}: ${stderr}`);
  });
  trackAlso(launcher, pid);
  return {
    pid,
    launcher,
    kill: async () => {
      if (launcher.exitCode === null && launcher.signalCode === null) {
        const exited = new Promise((resolve) => launcher.once("exit", resolve));
        launcher.kill("SIGKILL");
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
        await exited;
      }
      // The launcher's exit does not wait for the target's (reparented, reaped by someone else).
      await waitFor(() => hasExited(pid), 5000, `target ${pid} to exit`);
    },
  };
}

/** Every namespace name under /proc/PID/ns whose inode differs from this process's. */
export function differingNamespaces(pid: number, names: string[]): string[] {
  return names.filter((name) => nsInode(pid, name) !== nsInode("self", name));
}
