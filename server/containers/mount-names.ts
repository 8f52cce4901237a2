import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { pinProcess } from "../namespaces/process-pin";
import { cgroupOfLine } from "./cgroup-names";
import type { CgroupLine } from "./cgroup-names";

/**
 * Container names and pod uids from kubelet's bind mounts, as a container
 * process's /proc/PID/mountinfo shows them: kubelet mounts each container's
 * termination log from `<kubelet root>/pods/<pod uid>/containers/<container
 * name>/<random hex>` (at /dev/termination-log unless the pod says
 * otherwise) and its /etc/hosts from `<kubelet root>/pods/<pod uid>/etc-hosts`.
 * The mountinfo root field is that path within its filesystem: with the
 * kubelet root on the root filesystem, `/var/lib/kubelet/…`. Needs neither a
 * runtime socket nor kubelet's logs: what a sidecar with shareProcessNamespace sees.
 */

/** A container's name (from its termination log mount) and its pod's uid. */
export interface MountName {
  podUid: string;
  /** Absent when only /etc/hosts named the pod. */
  name?: string;
}

/** Where the kubelet's pods are, and on which filesystem, as the daemon's own mounts (or the default) say. */
export interface KubeletMounts {
  /** The kubelet root as mountinfo root fields show it: `/var/lib/kubelet` unless the daemon's own termination log says otherwise. */
  root: string;
  /** major:minor of that filesystem, when the daemon's own termination log shows it (a sidecar): mounts of any other filesystem are not kubelet's. */
  device?: string;
}

const UID = "([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})";
/** A container name is a DNS label. */
const NAME = "([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)";
const TERMINATION_LOG = new RegExp(`^(.*)/pods/${UID}/containers/${NAME}/[0-9a-f]{1,64}$`);
const ETC_HOSTS = new RegExp(`^(.*)/pods/${UID}/etc-hosts$`);

/** One mountinfo line's device (field 3) and root (field 4), octal escapes undone. */
function mountFields(line: string): { device: string; root: string } | undefined {
  const fields = line.split(" ");
  if (fields.length < 5) return undefined;
  return { device: fields[2], root: fields[3].replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8))) };
}

/**
 * The name and pod uid a process's mountinfo text says, from mounts of
 * `kubelet`'s filesystem under its root only (a path of that form inside a
 * volume, or on a filesystem a container mounted itself, is not kubelet's).
 * Undefined when there is none, or when two of them disagree.
 */
export function mountNameOf(mountinfo: string, kubelet: KubeletMounts): MountName | undefined {
  let found: MountName | undefined;
  for (const line of mountinfo.split("\n")) {
    const fields = mountFields(line);
    if (!fields || (kubelet.device !== undefined && fields.device !== kubelet.device)) continue;
    const log = TERMINATION_LOG.exec(fields.root);
    const hosts = log ? undefined : ETC_HOSTS.exec(fields.root);
    const match = log ?? hosts;
    if (!match || match[1] !== kubelet.root) continue;
    const podUid = match[2];
    if (found && found.podUid !== podUid) return undefined;
    if (log) {
      if (found?.name !== undefined && found.name !== log[3]) return undefined;
      found = { podUid, name: log[3] };
    } else found = found ?? { podUid };
  }
  return found;
}

/**
 * Where kubelet's pods are for this daemon: from its own termination log
 * mount when it runs in a pod (the root and the filesystem every container
 * of its node shares), else `/var/lib/kubelet` on any filesystem.
 */
export function kubeletMountsOfSelf(mountinfo = readSelfMountinfo()): KubeletMounts {
  for (const line of mountinfo.split("\n")) {
    const fields = mountFields(line);
    const log = fields && TERMINATION_LOG.exec(fields.root);
    if (fields && log) return { root: log[1], device: fields.device };
  }
  return { root: "/var/lib/kubelet" };
}

/**
 * The kubelet name of the container whose process is `pid`, read through a
 * pidfd: pinned first, then /proc/PID/cgroup and /proc/PID/mountinfo read,
 * then confirmed alive. Null when its mounts name no pod (or disagree);
 * undefined when it could not be read: gone, or no longer in `cgroup`
 * (`inCgroup` compares its cgroup with it).
 */
export async function readMountName(pid: number, line: CgroupLine, inCgroup: (cgroup: string) => boolean, kubelet: KubeletMounts): Promise<MountName | null | undefined> {
  let pin;
  try {
    pin = pinProcess(pid);
  } catch {
    return undefined; // gone
  }
  try {
    const [cgroups, mountinfo] = await Promise.all([readFile(`/proc/${pid}/cgroup`, "utf8"), readFile(`/proc/${pid}/mountinfo`, "utf8")]);
    pin.confirm(); // both were read of the pinned process, not of one that took its pid
    const now = cgroupOfLine(cgroups, line);
    if (now === undefined || !inCgroup(now)) return undefined;
    return mountNameOf(mountinfo, kubelet) ?? null;
  } catch {
    return undefined; // exited meanwhile
  } finally {
    pin.release();
  }
}

function readSelfMountinfo(): string {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
}
