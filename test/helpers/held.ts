import { execFileSync } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";

/** The /proc path of the fd through which this process holds namespace `nsId` of type `name`, or undefined. */
export function heldPath(name: string, nsId: bigint): string | undefined {
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `${name}:[${nsId}]`) return `/proc/${process.pid}/fd/${fd}`;
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

/** Runs `nsenter --<flag>=<held fd> command...` and returns its stdout. */
export function nsenterHeld(flag: string, name: string, nsId: bigint, command: string[]): string {
  const file = heldPath(name, nsId);
  if (!file) throw new Error(`namespace ${name}:[${nsId}] is not held by this process`);
  return execFileSync("nsenter", [`--${flag}=${file}`, ...command], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
