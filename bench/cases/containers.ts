// Inspect by container id against Inspect by pid, with 1,000 containers'
// cgroups (at scale 1) named as containerd's CRI systemd driver names them,
// 3,000 processes in them (the list case's crowd shape: groups of four in
// net+uts namespaces of their own), and the bench target in one more.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { NamespaceType } from "../../client";
import { hierarchyMount } from "../../server/containers/container-index";
import { lineOfHost } from "../../server/containers/cgroup-names";
import { measure } from "../measure";
import type { CaseResult } from "../results";
import { scaled } from "../scale";
import { startCrowd } from "../targets";
import type { BenchContext } from "./context";

/** Container cgroups below one top directory of a random name, removed (their processes moved out) by remove(). */
function containerCgroups(count: number): { root: string; ids: string[]; cgroup(i: number): string; remove(): void } {
  const root = hierarchyMount(lineOfHost(readFileSync("/proc/self/cgroup", "utf8")));
  const top = path.join(root, `lxnsd-bench-${randomBytes(4).toString("hex")}`, "kubepods.slice");
  const ids = Array.from({ length: count }, () => randomBytes(32).toString("hex"));
  const pods = ids.map(() => randomBytes(16).toString("hex").replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1_$2_$3_$4_$5"));
  const dirs = ids.map((id, i) => path.join(top, `kubepods-pod${pods[i]}.slice`, `cri-containerd-${id}.scope`));
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  return {
    root,
    ids,
    cgroup: (i) => dirs[i],
    remove: () => {
      for (const dir of dirs) {
        for (const pid of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          try {
            writeFileSync(path.join(root, "cgroup.procs"), `${pid}\n`);
          } catch {
            // exited meanwhile
          }
        }
        rmdirSync(dir);
        rmdirSync(path.dirname(dir));
      }
      rmdirSync(top);
      rmdirSync(path.dirname(top));
    },
  };
}

export async function containerCases(ctx: BenchContext): Promise<CaseResult[]> {
  const containers = scaled(1000, ctx.scale, 4);
  const cgroups = containerCgroups(containers + 1);
  // 3 processes per container: 3,000 at scale 1 (groups of four, so a few more).
  const crowd = await startCrowd(Math.ceil((3 * containers) / 4));
  try {
    crowd.members().forEach((pid, i) => writeFileSync(path.join(cgroups.cgroup(i % containers), "cgroup.procs"), `${pid}\n`));
    writeFileSync(path.join(cgroups.cgroup(containers), "cgroup.procs"), `${ctx.targetPid}\n`);
    const byPid = { ref: { type: NamespaceType.NET, source: { case: "pid" as const, value: ctx.targetPid } } };
    const byId = { ref: { type: NamespaceType.NET, source: { case: "container" as const, value: { selector: { case: "containerId" as const, value: cgroups.ids[containers] } } } } };
    const [a, b] = await Promise.all([ctx.client.inspect(byPid), ctx.client.inspect(byId)]);
    if (a.info?.nsId !== b.info?.nsId) throw new Error("Inspect by container id named another namespace than by pid");
    return await measure(
      [
        { id: "inspect-pid", label: "Inspect (net of a pid)", side: "baseline", unit: "ops/s", op: () => () => ctx.client.inspect(byPid) },
        { id: "inspect-container", label: `Inspect (net of a container id; ${containers} containers, ${crowd.processes} processes in them)`, side: "lxnsd", unit: "ops/s", op: () => () => ctx.client.inspect(byId) },
      ],
      { rounds: scaled(1000, ctx.scale, 20), warmup: scaled(100, ctx.scale, 5), calls: (c) => scaled(2000, ctx.scale, c), concurrencies: ctx.concurrencies },
    );
  } finally {
    await crowd.stop();
    cgroups.remove();
  }
}
