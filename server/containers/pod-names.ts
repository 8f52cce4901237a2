import { readdirSync } from "node:fs";
import { readdir, readlink } from "node:fs/promises";
import * as path from "node:path";

/** A Kubernetes pod as kubelet's log directories name it. */
export interface PodName {
  uid: string;
  namespace: string;
  name: string;
}

/** A container's name in its pod, from kubelet's /var/log/containers link. */
export interface ContainerName {
  name: string;
  /** The pod's uid when the link's target (`<pod dir>/<ns>_<name>_<uid>/<container>/N.log`) names it. */
  podUid?: string;
  podNamespace: string;
  podName: string;
}

/** kubelet's pod log directory: `<namespace>_<name>_<uid>`; neither namespace nor name may contain `_`. */
const POD_DIR = /^([a-z0-9-]{1,63})_([a-z0-9.-]{1,253})_([0-9a-f-]{32,36})$/;
/** kubelet's container log link: `<pod>_<namespace>_<container>-<id>.log`. */
const CONTAINER_LINK = /^([a-z0-9.-]{1,253})_([a-z0-9-]{1,63})_([a-z0-9-]{1,63})-([0-9a-f]{64})\.log$/;

/** The pods of `podLogDir` (kubelet's /var/log/pods), by uid; none when it cannot be read. */
export async function readPodNames(podLogDir: string): Promise<Map<string, PodName>> {
  const pods = new Map<string, PodName>();
  if (podLogDir === "") return pods;
  for (const entry of await listDir(podLogDir)) {
    const match = POD_DIR.exec(entry);
    if (match) pods.set(match[3], { namespace: match[1], name: match[2], uid: match[3] });
  }
  return pods;
}

/**
 * The names of containers by id, from kubelet's links in `containerLogDir`
 * (/var/log/containers, beside /var/log/pods); none when it cannot be read.
 * Sandboxes have no logs, so no name.
 */
export async function readContainerNames(containerLogDir: string): Promise<Map<string, ContainerName>> {
  const names = new Map<string, ContainerName>();
  if (containerLogDir === "") return names;
  for (const entry of await listDir(containerLogDir)) {
    const match = CONTAINER_LINK.exec(entry);
    if (!match) continue;
    const target = await readlink(path.join(containerLogDir, entry)).catch(() => "");
    const pod = POD_DIR.exec(path.basename(path.dirname(path.dirname(target))));
    const podUid = pod && pod[1] === match[2] && pod[2] === match[1] ? pod[3] : undefined;
    names.set(match[4], { name: match[3], podNamespace: match[2], podName: match[1], ...(podUid ? { podUid } : {}) });
  }
  return names;
}

/** Where kubelet's container log links are, given its pod log directory: its sibling `containers`. */
export function containerLogDirOf(podLogDir: string): string {
  return podLogDir === "" ? "" : path.join(path.dirname(path.resolve(podLogDir)), "containers");
}

/** How often podNamespaceLookup reads the directory again for a uid it does not know, at most. */
const REREAD_MS = 1000;

/**
 * The Kubernetes namespace of a pod by uid, from `podLogDir`, for policy
 * rules: a cached listing, read again (synchronously: one readdir of a
 * local directory) when a uid is not in it, at most once a second. An
 * unknown uid is undefined (the rule then refuses).
 */
export function podNamespaceLookup(podLogDir: string): (uid: string) => string | undefined {
  let known = new Map<string, string>();
  let readAt = 0;
  return (uid) => {
    const found = known.get(uid);
    if (found !== undefined || podLogDir === "" || Date.now() - readAt < REREAD_MS) return found;
    readAt = Date.now();
    let entries: string[] = [];
    try {
      entries = readdirSync(podLogDir);
    } catch {
      // none
    }
    known = new Map(entries.flatMap((entry) => {
      const match = POD_DIR.exec(entry);
      return match ? [[match[3], match[1]] as [string, string]] : [];
    }));
    return known.get(uid);
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
