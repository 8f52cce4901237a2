import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { hierarchyMount } from "../../server/containers/container-index";
import { lineOfHost as hostLine } from "../../server/containers/cgroup-names";

/** Sleeps synchronously (cleanup stays synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** 64 random hex digits: a container id no one else has. */
export function randomContainerId(prefix = ""): string {
  return (prefix + randomBytes(32).toString("hex")).slice(0, 64);
}

/** A random pod uid (UUID form). */
export function randomPodUid(): string {
  const hex = randomBytes(16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Cgroups made as container runtimes make them, all below one top
 * directory of a random name in the hierarchy the daemon reads (name=systemd
 * on v1/hybrid hosts, else v2, or the one given). removeAll() moves their
 * processes back to the root and removes them, deepest first.
 */
export class ContainerCgroups {
  readonly root: string;
  readonly top: string;
  private readonly made: string[] = [];

  constructor(root?: string) {
    this.root = root ?? hierarchyMount(hostLine(readFileSync("/proc/self/cgroup", "utf8")));
    this.top = `/lxnsd-test-${randomBytes(4).toString("hex")}`;
  }

  /** Makes `relative` (below the top directory, every missing level) and returns its cgroup path. */
  make(relative: string): string {
    const cgroup = `${this.top}/${relative.replace(/^\/+/, "")}`;
    const parts = cgroup.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = path.join(this.root, ...parts.slice(0, i));
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      this.made.push(dir);
    }
    return cgroup;
  }

  /** Moves `pid` into cgroup `cgroup` (as make() returned it). */
  add(cgroup: string, pid: number): void {
    writeFileSync(path.join(this.root, cgroup, "cgroup.procs"), `${pid}\n`);
  }

  /** Removes one cgroup (and what is below it) now, its processes moved to the root. */
  remove(cgroup: string): void {
    const dir = path.join(this.root, cgroup);
    for (const made of [...this.made].reverse()) if (made === dir || made.startsWith(`${dir}/`)) this.removeDir(made);
  }

  removeAll(): void {
    for (const dir of [...this.made].reverse()) this.removeDir(dir);
  }

  private removeDir(dir: string): void {
    const index = this.made.indexOf(dir);
    if (index >= 0) this.made.splice(index, 1);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        for (const pid of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          try {
            writeFileSync(path.join(this.root, "cgroup.procs"), `${pid}\n`);
          } catch {
            // exited meanwhile
          }
        }
        rmdirSync(dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return;
        if (code !== "EBUSY" || Date.now() > deadline) throw err;
        sleepSync(20);
      }
    }
  }
}

