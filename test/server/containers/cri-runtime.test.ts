import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { CriRuntime } from "../../../server/containers/cri-runtime";
import { RuntimeUnavailable } from "../../../server/containers/runtime-names";
import { TestContainerd, containerdProblem } from "../../helpers/containerd";
import type { TestPod } from "../../helpers/containerd";
import { nsInode } from "../../helpers/proc";
import { itUnless } from "../../helpers/visible-skip";

const problem = containerdProblem();
const it_ = itUnless(problem === "", problem);

/** The last field of every line of /proc/PID/cgroup. */
function cgroupPaths(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n").map((line) => line.split(":").slice(2).join(":"));
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Pids whose command line names `text` (containerd, shims and runc of the test's containerd name its temp dir). */
function processesNaming(text: string): string[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    });
}

describe("CriRuntime against a real containerd (test/helpers/containerd.ts)", () => {
  let containerd: TestContainerd | undefined;
  let cri: CriRuntime;
  let stopped = false;
  const suffix = randomBytes(3).toString("hex");

  beforeAll(async () => {
    if (problem !== "") return;
    containerd = await TestContainerd.start();
    cri = new CriRuntime(containerd.endpoint);
  }, 60_000);

  afterAll(async () => {
    cri?.close();
    if (containerd && !stopped) await containerd.stop();
  }, 60_000);

  async function pod(name: string, labels: Record<string, string> = {}): Promise<TestPod & { uid: string; name: string; namespace: string }> {
    const spec = { name: `${name}-${suffix}`, namespace: `team-${suffix}`, uid: randomUUID(), labels };
    return { ...(await containerd!.runPod(spec)), uid: spec.uid, name: spec.name, namespace: spec.namespace };
  }

  it_("is named after the runtime its socket belongs to", () => {
    expect(cri.runtime).toBe("containerd");
    expect(cri.endpoint).toBe(containerd!.endpoint);
  });

  it_("lists the pods and containers it made as CRI names them: ids, names, pod uid/namespace/name, labels, states", async () => {
    const web = await pod("web", { app: "web", tier: "front" });
    const app = await containerd!.runContainer(web, { name: "app", labels: { role: "main" } });
    const sidecar = await containerd!.runContainer(web, { name: "sidecar" });
    const idle = await pod("idle");
    const created = await containerd!.createContainer(idle, { name: "not-started", labels: { started: "no" } });

    const sandboxes = await cri.sandboxes();
    expect(sandboxes).toEqual(
      expect.arrayContaining([
        { id: web.id, uid: web.uid, namespace: web.namespace, name: web.name, state: "running", labels: { app: "web", tier: "front" } },
        { id: idle.id, uid: idle.uid, namespace: idle.namespace, name: idle.name, state: "running", labels: {} },
      ]),
    );
    expect(sandboxes).toHaveLength(2);
    const containers = await cri.containers();
    expect(containers).toEqual(
      expect.arrayContaining([
        { id: app, name: "app", sandboxId: web.id, state: "running", labels: { role: "main" } },
        { id: sidecar, name: "sidecar", sandboxId: web.id, state: "running", labels: {} },
        { id: created, name: "not-started", sandboxId: idle.id, state: "created", labels: { started: "no" } },
      ]),
    );
    expect(containers).toHaveLength(3);
    expect(await cri.pidOf(created, false)).toBeUndefined();
    for (const made of [web, idle]) await containerd!.removePod(made.id);
    expect(await cri.sandboxes()).toEqual([]);
    expect(await cri.containers()).toEqual([]);
  });

  it_("gives the pid ContainerStatus verbose reports, a process in the cgroup /k8s.io/<id> on every hierarchy, in the pod's namespaces", async () => {
    const db = await pod("db");
    const id = await containerd!.runContainer(db, { name: "db" });
    const pid = await cri.pidOf(id, false);
    expect(pid).toBe(await containerd!.statusPid(id));
    expect(comm(pid!)).toBe("sleep");
    const paths = cgroupPaths(pid!);
    expect(paths.length).toBeGreaterThan(1);
    expect(new Set(paths)).toEqual(new Set([`/k8s.io/${id}`]));

    const sandboxPid = await cri.pidOf(db.id, true);
    expect(sandboxPid).toEqual(expect.any(Number));
    expect(sandboxPid).not.toBe(pid);
    expect(new Set(cgroupPaths(sandboxPid!))).toEqual(new Set([`/k8s.io/${db.id}`]));
    // The pod shares its sandbox's network, uts and ipc namespaces; the container has a pid namespace of its own; none is the host's.
    for (const type of ["net", "uts", "ipc"]) {
      expect(nsInode(pid!, type)).toBe(nsInode(sandboxPid!, type));
      expect(nsInode(pid!, type)).not.toBe(nsInode("self", type));
    }
    expect(nsInode(pid!, "pid")).not.toBe(nsInode(sandboxPid!, "pid"));
    await containerd!.removePod(db.id);
  });

  it_("says a stopped container is exited with no pid and its process gone, and knows no removed one; the same of pods", async () => {
    const job = await pod("job");
    const id = await containerd!.runContainer(job, { name: "worker" });
    const pid = (await cri.pidOf(id, false))!;
    await containerd!.stopContainer(id);
    expect(await cri.containers()).toContainEqual(expect.objectContaining({ id, state: "exited" }));
    expect(await cri.pidOf(id, false)).toBeUndefined();
    expect(comm(pid) === "sleep" && cgroupPaths(pid).includes(`/k8s.io/${id}`)).toBe(false);

    await containerd!.removeContainer(id);
    expect((await cri.containers()).map((container) => container.id)).not.toContain(id);
    expect(await cri.pidOf(id, false)).toBeUndefined();

    await containerd!.stopPod(job.id);
    expect(await cri.sandboxes()).toContainEqual(expect.objectContaining({ id: job.id, state: "exited" }));
    expect(await cri.pidOf(job.id, true)).toBeUndefined();
    await containerd!.removePod(job.id);
    expect((await cri.sandboxes()).map((sandbox) => sandbox.id)).not.toContain(job.id);
    expect(await cri.pidOf(job.id, true)).toBeUndefined();
  });

  it_("leaves nothing once the harness stops (containerd ended by its pid, no shim, runc or container process, no mount), and then rejects with RuntimeUnavailable", async () => {
    const last = await pod("last");
    await containerd!.runContainer(last, { name: "left-running" });
    const { dir, pid, endpoint } = containerd!;
    stopped = true;
    expect(await containerd!.stop()).toEqual({ processes: [], mounts: [], files: [] });
    expect(comm(pid)).toBeUndefined();
    expect(processesNaming(dir)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(dir);
    const err = await cri.containers().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeUnavailable);
    expect(err).toMatchObject({ endpoint, message: `container runtime at ${endpoint} is unreachable` });
  });
});
