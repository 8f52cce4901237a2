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

/** A fresh cgroup v2 group the test moves processes into; remove() moves them back out and deletes it. */
export function makeCgroup(name: string): { path: string; add(pid: number): void; remove(): void } {
  const root = cgroup2Mount();
  const dir = path.join(root, name);
  mkdirSync(dir);
  return {
    path: `/${name}`,
    add: (pid) => writeFileSync(path.join(dir, "cgroup.procs"), `${pid}\n`),
    remove: () => {
      for (const pid of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
        try {
          writeFileSync(path.join(root, "cgroup.procs"), `${pid}\n`);
        } catch {
          // exited meanwhile
        }
      }
      rmdirSync(dir);
    },
  };
}
