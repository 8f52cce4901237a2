import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { trackAlso, trackChild } from "./leftovers";
import { processState, waitFor } from "./proc";

/** Why startMmLockHang cannot run here, or undefined when it can (a C compiler and /dev/fuse). */
export function mmLockHangMissing(): string | undefined {
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
  } catch {
    return "no C compiler (cc)";
  }
  return undefined;
}

/** A process (test/helpers/mm-lock-hang.c) whose mmap lock stays taken: every read of its /proc/PID/cmdline blocks. */
export interface MmLockHang {
  /** The stuck process (its comm is COMM). */
  pid: number;
  /** Its FUSE server (a child of it): killing it aborts the connection, and the lock comes free. */
  serverPid: number;
  /** Kills the FUSE server (the lock comes free), then the process; waits for both. Idempotent. */
  release(): Promise<void>;
}

/** The comm of the stuck process (the compiled program's name). */
export const MM_LOCK_HANG_COMM = "mm-lock-hang";

/**
 * Compiles and starts mm-lock-hang.c and resolves once its lock is stuck.
 * The FUSE server gives up after `seconds` on its own (should the test die
 * before release()). `cgroupProcs`: a cgroup.procs file to start it in.
 */
export async function startMmLockHang(seconds = 120, cgroupProcs?: string): Promise<MmLockHang> {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-mmhang-"));
  const binary = path.join(dir, MM_LOCK_HANG_COMM);
  execFileSync("cc", ["-O1", "-pthread", "-o", binary, path.join(__dirname, "mm-lock-hang.c")], { stdio: ["ignore", "ignore", "pipe"] });
  mkdirSync(path.join(dir, "mnt"));
  const args = [path.join(dir, "mnt"), String(seconds)];
  const child = cgroupProcs
    ? spawn("sh", ["-c", `echo $$ > "$0" && exec "$@"`, cgroupProcs, binary, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  trackChild(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const serverPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mm-lock-hang not stuck after 10 s: ${err}`)), 10_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.endsWith("\n")) {
        clearTimeout(timer);
        resolve(Number(out.trim()));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`mm-lock-hang exited (${code ?? signal}): ${err}`));
    });
  }).catch((error: Error) => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  trackAlso(child, serverPid);
  let released: Promise<void> | undefined;
  return {
    pid: child.pid!,
    serverPid,
    release: () =>
      (released ??= (async () => {
        // The server first: while the READ it holds is unanswered, the stuck threads do not even die.
        try {
          process.kill(serverPid, "SIGKILL");
        } catch {
          // gone already (its alarm)
        }
        // The stuck process reaps it.
        await waitFor(() => processState(serverPid) === null, 5000, "the FUSE server to die").catch(() => undefined);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGKILL");
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Whether reading `file` (with cat) is still blocked after `ms` (it is then SIGKILLed). */
export async function readBlocks(file: string, ms: number): Promise<boolean> {
  const cat = spawn("timeout", ["-s", "KILL", `${ms / 1000}`, "cat", file], { stdio: "ignore" });
  // timeout sends the KILL to its process group, itself included (or exits 137).
  return new Promise<boolean>((resolve) => cat.once("exit", (code, signal) => resolve(code === 137 || signal === "SIGKILL")));
}
