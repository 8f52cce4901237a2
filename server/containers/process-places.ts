import { readFile } from "node:fs/promises";
import { cgroupOfLine, containerAbove, podUidOfCgroup } from "./cgroup-names";
import type { CgroupLine } from "./cgroup-names";

/** The container and pod a process is in, as NamespaceSummary names them; empty strings for none. */
export interface ProcessPlace {
  containerId: string;
  podUid: string;
}

/**
 * The container and pod of processes from their /proc/PID/cgroup, read
 * asynchronously and remembered for the life of one call (a listing names
 * the same lowest pids many times).
 */
export class ProcessPlaces {
  private readonly known = new Map<number, Promise<ProcessPlace>>();

  constructor(private readonly line: CgroupLine) {}

  of(pid: number): Promise<ProcessPlace> {
    let place = this.known.get(pid);
    if (!place) {
      place = readFile(`/proc/${pid}/cgroup`, "utf8").then(
        (text) => placeOf(cgroupOfLine(text, this.line)),
        () => ({ containerId: "", podUid: "" }),
      );
      this.known.set(pid, place);
    }
    return place;
  }
}

/** The container and pod a cgroup path names. */
export function placeOf(cgroup: string | undefined): ProcessPlace {
  if (cgroup === undefined) return { containerId: "", podUid: "" };
  return { containerId: containerAbove(cgroup)?.container.id ?? "", podUid: podUidOfCgroup(cgroup) ?? "" };
}
