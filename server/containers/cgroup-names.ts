/**
 * How container runtimes and kubelet name cgroups: pure functions from a
 * cgroup path (the last field of a /proc/PID/cgroup line) to the container
 * and pod it belongs to. Nothing here reads a file.
 */

/** The runtimes whose cgroup names are known. */
export type RuntimeKind = "containerd" | "cri-o" | "docker" | "podman";

/** What a cgroup path says about its container. */
export interface CgroupContainer {
  /** The container id: 64 hex digits. */
  id: string;
  runtime: RuntimeKind;
  /** The pod uid (with `-`), when the path is below a kubepods pod cgroup. */
  podUid?: string;
}

/** Which line of /proc/PID/cgroup names a process's cgroup: `0::` on cgroup v2, `name=systemd` on v1 and hybrid hosts. */
export type CgroupLine = "0::" | "name=systemd";

const ID = "([0-9a-f]{64})";
/** systemd driver scopes (and the cgroupfs forms without `.scope`): the runtime prefix names the runtime. */
const SCOPES: ReadonlyArray<[RegExp, RuntimeKind]> = [
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), "containerd"],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), "cri-o"],
  [new RegExp(`^docker-${ID}\\.scope$`), "docker"],
  [new RegExp(`^libpod-${ID}(?:\\.scope)?$`), "podman"],
];
const BARE_ID = new RegExp(`^${ID}$`);
/** A pod uid: a UUID, or a static pod's 32-digit hash; the systemd driver writes `_` for `-`. */
const UID = "([0-9a-f]{8}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{12})";
/** systemd driver: kubepods-pod<uid>.slice (guaranteed), kubepods-burstable-pod<uid>.slice, kubepods-besteffort-pod<uid>.slice. */
const SYSTEMD_POD = new RegExp(`^(?:[a-z0-9]+-)*kubepods(?:-burstable|-besteffort)?-pod${UID}\\.slice$`);
/** cgroupfs driver: pod<uid> below kubepods/, kubepods/burstable/ or kubepods/besteffort/. */
const CGROUPFS_POD = new RegExp(`^pod${UID}$`);

/** The components of a cgroup path, without the `/..` a cgroup namespace puts in front of paths outside it. */
export function cgroupComponents(cgroupPath: string): string[] {
  const parts = cgroupPath.split("/").filter((part) => part !== "" && part !== ".");
  let start = 0;
  while (parts[start] === "..") start++;
  return parts.slice(start);
}

/** The pod uid (with `-`) of a path below a kubepods pod cgroup, for both cgroup drivers and all three QoS classes. */
export function podUidOfCgroup(cgroupPath: string): string | undefined {
  const parts = cgroupComponents(cgroupPath);
  for (let i = 0; i < parts.length; i++) {
    const systemd = SYSTEMD_POD.exec(parts[i]);
    if (systemd) return normalUid(systemd[1]);
    const cgroupfs = CGROUPFS_POD.exec(parts[i]);
    if (cgroupfs && parts.slice(0, i).some((part) => part === "kubepods" || part.startsWith("kubepods"))) return normalUid(cgroupfs[1]);
  }
  return undefined;
}

/**
 * The container whose cgroup is exactly `cgroupPath` (its last component
 * names it): `cri-containerd-ID.scope`, `crio-ID.scope` (not
 * `crio-conmon-ID.scope`, the monitor), `docker-ID.scope`, `/docker/ID`,
 * `libpod-ID.scope` (not its conmon), kubepods' cgroupfs `…/pod<uid>/ID`
 * and plain containerd's `/<namespace>/ID`. Undefined for anything else.
 */
export function containerOfCgroup(cgroupPath: string): CgroupContainer | undefined {
  const parts = cgroupComponents(cgroupPath);
  const last = parts[parts.length - 1];
  if (last === undefined) return undefined;
  const podUid = podUidOfCgroup(cgroupPath);
  for (const [pattern, runtime] of SCOPES) {
    const match = pattern.exec(last);
    if (match) return withPod({ id: match[1], runtime }, podUid);
  }
  const bare = BARE_ID.exec(last);
  if (!bare || parts.length < 2) return undefined;
  const runtime: RuntimeKind = parts[parts.length - 2] === "docker" ? "docker" : "containerd";
  return withPod({ id: bare[1], runtime }, podUid);
}

/**
 * The container a process's cgroup path is in: its own cgroup or the
 * nearest ancestor that names one (a container may make cgroups below its
 * own). Undefined for a process of no container.
 */
export function containerAbove(cgroupPath: string): { container: CgroupContainer; cgroup: string } | undefined {
  const parts = cgroupComponents(cgroupPath);
  for (let end = parts.length; end > 0; end--) {
    const cgroup = `/${parts.slice(0, end).join("/")}`;
    const container = containerOfCgroup(cgroup);
    if (container) return { container, cgroup };
  }
  return undefined;
}

/** The path of `line` in the text of /proc/PID/cgroup; undefined when there is no such line. */
export function cgroupOfLine(procCgroup: string, line: CgroupLine): string | undefined {
  for (const entry of procCgroup.split("\n")) {
    const first = entry.indexOf(":");
    const second = entry.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const hierarchy = entry.slice(0, first);
    const controllers = entry.slice(first + 1, second);
    const found = line === "0::" ? hierarchy === "0" && controllers === "" : controllers.split(",").includes("name=systemd");
    if (found) return entry.slice(second + 1);
  }
  return undefined;
}

/**
 * Which line names cgroups on a host whose own /proc/self/cgroup is
 * `procCgroup`: `name=systemd` when there is such a v1 hierarchy (v1 or
 * hybrid), else `0::`.
 */
export function lineOfHost(procCgroup: string): CgroupLine {
  return cgroupOfLine(procCgroup, "name=systemd") === undefined ? "0::" : "name=systemd";
}

/**
 * A container id as a caller gives it: the full id or a prefix, bare or as
 * a pod status shows it (`containerd://`, `cri-o://`, `docker://`).
 * Lower-cased; undefined when it is not hex after the scheme.
 */
export function parseContainerId(value: string): { prefix: string; runtime?: RuntimeKind } | undefined {
  const scheme = /^(containerd|cri-o|docker):\/\/(.*)$/.exec(value);
  const id = (scheme ? scheme[2] : value).toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(id)) return undefined;
  return scheme ? { prefix: id, runtime: scheme[1] as RuntimeKind } : { prefix: id };
}

function normalUid(uid: string): string {
  const hex = uid.replace(/[-_]/g, "");
  if (uid.length === 32 && hex.length === 32) return uid;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function withPod(container: CgroupContainer, podUid: string | undefined): CgroupContainer {
  return podUid === undefined ? container : { ...container, podUid };
}
