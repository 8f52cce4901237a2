import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Logger } from "pino";

/** The default parent of the programs' cgroups, below the daemon's own cgroup v2. */
export const PROGRAM_CGROUP_NAME = "lxnsd-programs";

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup; /sys/fs/cgroup/unified on hybrid hosts), from mountinfo. */
export function cgroup2Mount(mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string | undefined {
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.startsWith("cgroup2 ")) return unescapeMountPath(before.split(" ")[4]);
  }
  return undefined;
}

/** The daemon's own cgroup v2 path (the "0::" line of /proc/self/cgroup), e.g. "/system.slice/lxnsd.service". */
export function ownCgroup2(procCgroup = readFileSync("/proc/self/cgroup", "utf8")): string | undefined {
  return procCgroup.match(/^0::(\/.*)$/m)?.[1];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The cgroup v2 directory under which every program gets a cgroup of its
 * own (the addon's exec.cgroupParent): `configured` (--program-cgroup), or
 * `<the daemon's own cgroup v2>/lxnsd-programs`; created when missing (its
 * parent must be a cgroup v2 directory).
 *
 * Below the daemon's own cgroup it needs no other rights and works on hybrid
 * and pure v2 hosts alike. The daemon's cgroup then holds a process (the
 * daemon) and a child, which cgroup v2 allows as long as no controller is
 * enabled in its cgroup.subtree_control (the "no internal processes" rule;
 * the programs' cgroups are leaves and may have controllers). Under systemd
 * the unit needs Delegate=yes, so that systemd leaves that subtree to the
 * daemon (deploy/systemd/lxnsd.service has it).
 *
 * Without a cgroup v2 with cgroup.kill (Linux >= 5.14) the default logs a
 * warning and gives undefined: programs are then ended through their
 * process group only, which one that calls setsid escapes. A configured
 * directory that cannot be used throws (the daemon does not start).
 */
export function programCgroupParent(configured: string | undefined, log: Logger): string | undefined {
  let dir = configured;
  try {
    if (dir === undefined) {
      const mount = cgroup2Mount();
      const own = ownCgroup2();
      if (mount === undefined || own === undefined) throw new Error("no cgroup v2 hierarchy is mounted");
      dir = path.join(mount, own, PROGRAM_CGROUP_NAME);
    }
    if (!path.isAbsolute(dir)) throw new Error(`${dir}: not an absolute path`);
    if (!existsSync(path.join(path.dirname(dir), "cgroup.procs"))) throw new Error(`${path.dirname(dir)} is not a cgroup directory`);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(path.join(dir, "cgroup.kill"))) throw new Error(`${dir} has no cgroup.kill: not cgroup v2, or Linux < 5.14`);
    sweepOrphans(dir, log);
    return dir;
  } catch (err) {
    if (configured !== undefined) throw new Error(`--program-cgroup: ${(err as Error).message}`, { cause: err });
    log.warn(
      { err: (err as Error).message, programCgroup: dir },
      "no cgroup v2 for programs: a program is ended through its process group only, which one that calls setsid escapes",
    );
    return undefined;
  }
}

/**
 * A daemon killed outright (SIGKILL, a crash) leaves its programs' cgroups
 * behind, with whatever its programs started still in them (PDEATHSIG ends
 * the programs only), and the idle ones its addon kept for reuse
 * (native/src/child/cgroup_pool.h). Those of a daemon pid that no longer runs are killed
 * (cgroup.kill) and removed when already empty; best effort, at start.
 */
function sweepOrphans(dir: string, log: Logger): void {
  let swept = 0;
  for (const name of readdirSync(dir)) {
    const owner = /^program-(\d+)-\d+$/.exec(name)?.[1];
    if (owner === undefined || existsSync(`/proc/${owner}`)) continue;
    try {
      writeFileSync(path.join(dir, name, "cgroup.kill"), "1");
      rmdirSync(path.join(dir, name));
    } catch {
      // still emptying (EBUSY) or gone: the next start tries again
    }
    swept++;
  }
  if (swept > 0) log.warn({ programCgroup: dir, swept }, "killed the programs' cgroups of a daemon that is gone");
}
