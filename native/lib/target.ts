/**
 * Reads a target context (see RawChildTarget in ./raw.ts) from a live
 * process: pinned by a pidfd first, every value read from /proc, then
 * confirmed alive through the pidfd, so nothing read belongs to another
 * process that took over the pid meanwhile. Plain numbers and strings; the
 * server decides what a caller may do with it.
 */
import { constants, closeSync, openSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

import { NativeError } from "./native-error";
import type { RawChildTarget } from "./raw";

/** A namespace type's name and CLONE_NEW* flag (NS_TYPES of ./index.ts). */
interface NsType {
  readonly name: string;
  readonly flag: number;
}

/** A process to run as, read while pinned. close() releases its fds. */
export interface TargetContext {
  readonly pid: number;
  /** Its start time (field 22 of /proc/PID/stat, clock ticks since boot): with pid, names the process for good. */
  readonly startTime: string;
  /** The child spec's `target`: its fds stay open until close(). */
  readonly spec: RawChildTarget;
  /** The nsfs inode of each of its namespaces (/proc/PID/ns/NAME), by type name. */
  readonly namespaces: ReadonlyMap<string, bigint>;
  /** The cgroup paths of /proc/PID/cgroup, as read: "0::/a" or "4:memory:/b" lines. */
  readonly cgroupLines: readonly string[];
  /** Its effective uid and gid inside its own user namespace (through uid_map and gid_map). */
  readonly uidInside: number;
  readonly gidInside: number;
  /** Whether its user namespace is the daemon's. */
  readonly sameUserNamespace: boolean;
  /** Its LSM label (/proc/PID/attr/current), when an LSM that labels processes is active; see lsmLabel. */
  readonly lsmLabel?: string;
  /** Its cgroup v2 directory and that directory's cgroup.procs fd (one of spec.cgroupProcsFds), where v2 is mounted. */
  readonly cgroupV2?: { readonly dir: string; readonly fd: number };
  close(): void;
}

const MASKS = { bounding: "CapBnd", inheritable: "CapInh", permitted: "CapPrm", effective: "CapEff", ambient: "CapAmb" } as const;

function field(status: string, name: string): string {
  const line = status.split("\n").find((entry) => entry.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`/proc status has no ${name} line`);
  return line.slice(name.length + 1).trim();
}

/** The id a kernel id (as the reader sees it) has inside a user namespace, from its uid_map or gid_map text. */
export function idInside(mapText: string, id: number): number {
  for (const line of mapText.split("\n")) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (count === undefined || Number.isNaN(count)) continue;
    if (id >= outside && id - outside < count) return inside + (id - outside);
  }
  return 65534; // unmapped: the overflow id, as the kernel shows it
}

interface CgroupMount {
  /** "" for cgroup2, else the super options (controllers, name=...). */
  options: string[];
  v2: boolean;
  root: string;
  mountPoint: string;
}

function cgroupMounts(): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const [fstype, , superOptions] = right.split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const fields = left.split(" ");
    mounts.push({ v2: fstype === "cgroup2", options: (superOptions ?? "").split(","), root: unescape(fields[3]), mountPoint: unescape(fields[4]) });
  }
  return mounts;
}

function unescape(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The cgroup.procs file of each hierarchy in `lines` (/proc/PID/cgroup) that is mounted here. */
export function cgroupProcsFiles(lines: readonly string[]): string[] {
  const mounts = cgroupMounts();
  const files: string[] = [];
  for (const line of lines) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    const controllers = line.slice(first + 1, second);
    const cgroup = line.slice(second + 1);
    const mount = controllers === ""
      ? mounts.find((m) => m.v2)
      : mounts.find((m) => !m.v2 && controllers.split(",").every((c) => m.options.includes(c)));
    if (!mount) continue; // a hierarchy not mounted here (or a v1 hierarchy with no controller left)
    const relative = path.posix.relative(mount.root, cgroup);
    if (relative.startsWith("..")) throw new NativeError(`cgroup ${cgroup} is outside the mount of ${mount.mountPoint}`, "EXDEV", 18, "open");
    files.push(path.posix.join(mount.mountPoint, relative, "cgroup.procs"));
  }
  return [...new Set(files)];
}

/**
 * The LSM label of a process (/proc/PID/attr/current: AppArmor's profile,
 * SELinux's context), or undefined when no LSM that labels processes is
 * active (the kernel answers EINVAL). `dir` is /proc/PID or /proc/self.
 */
export function lsmLabel(dir: string): string | undefined {
  try {
    const label = readFileSync(`${dir}/attr/current`, "utf8").replace(/\0/g, "").trim();
    return label === "" ? undefined : label;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EINVAL" || code === "ENOENT" || code === "EOPNOTSUPP") return undefined;
    throw err;
  }
}

/** Field 22 of /proc/PID/stat (starttime); the reads' errors as they are. */
export function processStartTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/**
 * Pins `pid` with a pidfd and reads its context. Throws NativeError ESRCH
 * when it has exited (before or during the reads), or the reads' errors.
 */
export function openTarget(pid: number, pidfdOpen: (pid: number) => number, pidfdAlive: (fd: number) => boolean, closeFd: (fd: number) => void, nsTypes: readonly NsType[]): TargetContext {
  const pidfd = pidfdOpen(pid);
  const fds: number[] = [];
  const close = () => {
    fds.forEach((fd) => closeSync(fd));
    fds.length = 0;
    closeFd(pidfd);
  };
  try {
    const dir = `/proc/${pid}`;
    const startTime = processStartTime(pid);
    const status = readFileSync(`${dir}/status`, "utf8");
    const uid = Number(field(status, "Uid").split(/\s+/)[1]);
    const gid = Number(field(status, "Gid").split(/\s+/)[1]);
    const groups = field(status, "Groups").split(/\s+/).filter(Boolean).map(Number);
    const caps = Object.fromEntries(Object.entries(MASKS).map(([set, name]) => [set, BigInt(`0x${field(status, name)}`)])) as RawChildTarget["caps"];
    const noNewPrivs = field(status, "NoNewPrivs") === "1";
    const cgroupLines = readFileSync(`${dir}/cgroup`, "utf8").split("\n").filter((line) => line !== "");
    const namespaces = new Map<string, bigint>();
    let nsFlags = 0;
    for (const type of nsTypes) {
      const ino = statSync(`${dir}/ns/${type.name}`, { bigint: true }).ino;
      namespaces.set(type.name, ino);
      if (ino !== statSync(`/proc/self/ns/${type.name}`, { bigint: true }).ino) nsFlags |= type.flag;
    }
    const sameUserNamespace = namespaces.get("user") === statSync("/proc/self/ns/user", { bigint: true }).ino;
    const uidInside = idInside(readFileSync(`${dir}/uid_map`, "utf8"), uid);
    const gidInside = idInside(readFileSync(`${dir}/gid_map`, "utf8"), gid);
    const label = lsmLabel(dir);
    const v2Line = cgroupLines.find((line) => line.startsWith("0::"));
    const v2File = v2Line === undefined ? undefined : cgroupProcsFiles([v2Line])[0];
    let cgroupV2: { dir: string; fd: number } | undefined;
    for (const file of cgroupProcsFiles(cgroupLines)) {
      const fd = openSync(file, constants.O_WRONLY);
      fds.push(fd);
      if (file === v2File) cgroupV2 = { dir: path.posix.dirname(file), fd };
    }
    // Everything above belongs to the pinned process only if it still runs now.
    if (!pidfdAlive(pidfd)) throw new NativeError(`process ${pid} exited while it was read`, "ESRCH", 3, "pidfd_send_signal");
    return {
      pid,
      startTime,
      spec: { pidfd, nsFlags, cgroupProcsFds: [...fds], uid, gid, groups, caps, noNewPrivs },
      namespaces,
      cgroupLines,
      uidInside,
      gidInside,
      sameUserNamespace,
      ...(label !== undefined ? { lsmLabel: label } : {}),
      ...(cgroupV2 ? { cgroupV2 } : {}),
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
