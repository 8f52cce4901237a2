import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
export function cgroup2Mount(): string {
  const line = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .find((entry) => entry.split(" - ")[1]?.startsWith("cgroup2 "));
  if (!line) throw new Error("no cgroup2 hierarchy is mounted");
  return line.split(" ")[4];
}

/** Sleeps synchronously (for cleanup that must stay synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A fresh cgroup v2 group the test moves processes into; remove() moves them
 * back out and deletes it, retrying while it is still busy (a process in the
 * middle of exiting, or a program's own cgroup below it not yet removed), for
 * up to 5 s.
 */
export function makeCgroup(name: string): { path: string; add(pid: number): void; remove(): void } {
  const root = cgroup2Mount();
  const dir = path.join(root, name);
  mkdirSync(dir);
  return {
    path: `/${name}`,
    add: (pid) => writeFileSync(path.join(dir, "cgroup.procs"), `${pid}\n`),
    remove: () => {
      const deadline = Date.now() + 5000;
      for (;;) {
        for (const pid of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          try {
            writeFileSync(path.join(root, "cgroup.procs"), `${pid}\n`);
          } catch {
            // exited meanwhile
          }
        }
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EBUSY" || Date.now() > deadline) throw err;
          sleepSync(20);
        }
      }
    },
  };
}
