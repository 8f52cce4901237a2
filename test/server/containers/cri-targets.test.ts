import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { NamespaceType, createClient, status } from "../../../client";
import type { ContainerRefSchema, ExecSession, LxnsdError } from "../../../client";
import { CriRuntime } from "../../../server/containers/cri-runtime";
import { TestContainerd, containerdProblem } from "../../helpers/containerd";
import type { TestPod } from "../../helpers/containerd";
import { startDaemon } from "../../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import type { TestDaemon } from "../../helpers/daemon";
import { nsInode } from "../../helpers/proc";
import { itUnless } from "../../helpers/visible-skip";

const problem = containerdProblem();
const it_ = itUnless(problem === "", problem);

type ContainerRefInit = MessageInitShape<typeof ContainerRefSchema>;
const byId = (value: string): ContainerRefInit => ({ selector: { case: "containerId", value } });
const byPod = (pod: { uid?: string; namespace?: string; name?: string; containerName?: string }): ContainerRefInit => ({ selector: { case: "pod", value: pod } });
const ref = (type: NamespaceType, container: ContainerRefInit) => ({ type, source: { case: "container" as const, value: container } });

async function collect(session: ExecSession): Promise<string> {
  let stdout = "";
  for await (const chunk of session.output) if (chunk.stream === "stdout") stdout += Buffer.from(chunk.data).toString();
  return stdout;
}

describe("container and pod references through a real CRI runtime (containerd of the test's own)", () => {
  let containerd: TestContainerd | undefined;
  let lxnsd: TestDaemon;
  let podLogs: string;
  const suffix = randomBytes(3).toString("hex");
  const web = { name: `web-${suffix}`, namespace: `team-${suffix}`, uid: randomUUID(), hostname: `web-host-${suffix}` };
  let pod: TestPod;
  let app: string;
  let sidecar: string;
  let sandboxPid: number;
  let appPid: number;
  let sidecarPid: number;

  beforeAll(async () => {
    if (problem !== "") return;
    containerd = await TestContainerd.start();
    pod = await containerd.runPod({ ...web, labels: { app: "web" } });
    app = await containerd.runContainer(pod, { name: "app" });
    sidecar = await containerd.runContainer(pod, { name: "sidecar" });
    appPid = (await containerd.statusPid(app))!;
    sidecarPid = (await containerd.statusPid(sidecar))!;
    // The sandbox's pid, as CRI says it, is what a pod reference without a container name must land on.
    const cri = new CriRuntime(containerd.endpoint);
    sandboxPid = (await cri.pidOf(pod.id, true))!;
    cri.close();
    // kubelet's log directory stays empty: pod names come from the runtime.
    podLogs = mkdtempSync(path.join(tmpdir(), "lxnsd-cri-pod-logs-"));
    lxnsd = await startDaemon({ criEndpoint: containerd.endpoint, podLogDir: podLogs });
  }, 90_000);

  afterAll(async () => {
    await lxnsd?.stop();
    if (podLogs) rmSync(podLogs, { recursive: true, force: true });
    if (containerd) expect(await containerd.stop()).toEqual({ processes: [], mounts: [], files: [] });
  }, 60_000);

  it_("Inspect, Run and Exec by full id, 12-digit prefix and containerd:// form land in that container's namespaces", async () => {
    for (const form of [app, app.slice(0, 12), `containerd://${app}`]) {
      for (const type of [NamespaceType.NET, NamespaceType.PID, NamespaceType.UTS]) {
        const name = NamespaceType[type].toLowerCase();
        const { info } = await lxnsd.client.inspect({ ref: ref(type, byId(form)) });
        expect(info!.nsId).toBe(nsInode(appPid, name));
      }
      const ran = await lxnsd.client.run({ join: [ref(NamespaceType.NET, byId(form))], argv: ["readlink", "/proc/self/ns/net"] });
      expect(ran.exit).toEqual({ code: 0 });
      expect(ran.stdout.toString().trim()).toBe(`net:[${nsInode(appPid, "net")}]`);
      const session = lxnsd.client.exec({ join: [ref(NamespaceType.UTS, byId(form))], argv: ["hostname"] });
      expect(await collect(session)).toBe(`${web.hostname}\n`);
      expect(await session.wait()).toEqual({ code: 0 });
    }
  });

  it_("a pod by uid or by namespace/name is its sandbox; with a container name, that container", async () => {
    const cases: Array<[ContainerRefInit, number]> = [
      [byPod({ uid: web.uid }), sandboxPid],
      [byPod({ namespace: web.namespace, name: web.name }), sandboxPid],
      [byPod({ uid: web.uid, containerName: "sidecar" }), sidecarPid],
      [byPod({ namespace: web.namespace, name: web.name, containerName: "app" }), appPid],
    ];
    for (const [container, pid] of cases) {
      const { info } = await lxnsd.client.inspect({ ref: ref(NamespaceType.PID, container) });
      expect(info!.nsId).toBe(nsInode(pid, "pid"));
    }
    // Each container has a pid namespace of its own; the pod shares one network namespace.
    expect(new Set([sandboxPid, appPid, sidecarPid].map((pid) => nsInode(pid, "pid"))).size).toBe(3);
    const { info } = await lxnsd.client.inspect({ ref: ref(NamespaceType.NET, byPod({ uid: web.uid })) });
    expect(info!.nsId).toBe(nsInode(appPid, "net"));
  });

  it_("`hostname` in the pod is the sandbox's hostname, joined by pod or by any of its containers", async () => {
    for (const container of [byPod({ uid: web.uid }), byPod({ namespace: web.namespace, name: web.name, containerName: "sidecar" }), byId(app)]) {
      const ran = await lxnsd.client.run({ join: [ref(NamespaceType.UTS, container)], argv: ["hostname"] });
      expect(ran.stdout.toString()).toBe(`${web.hostname}\n`);
    }
  });

  it_("ListContainers agrees with what CRI lists: ids, names, pod uid/namespace/name, sandbox, labels, the pid ContainerStatus verbose says", async () => {
    const cri = new CriRuntime(containerd!.endpoint);
    try {
      const [sandboxes, containers] = await Promise.all([cri.sandboxes(), cri.containers()]);
      const expected = [];
      for (const sandbox of sandboxes.filter((item) => item.state === "running")) {
        const pod = { uid: sandbox.uid, namespace: sandbox.namespace, name: sandbox.name };
        expected.push({ id: sandbox.id, name: "", pod, pid: await cri.pidOf(sandbox.id, true), sandbox: true, labels: sandbox.labels, runtime: "containerd", cgroup: `/k8s.io/${sandbox.id}` });
        for (const container of containers.filter((item) => item.sandboxId === sandbox.id && item.state === "running")) {
          expected.push({ id: container.id, name: container.name, pod, pid: await containerd!.statusPid(container.id), sandbox: false, labels: container.labels, runtime: "containerd", cgroup: `/k8s.io/${container.id}` });
        }
      }
      expect(expected.length).toBeGreaterThanOrEqual(3);
      const listed = [];
      for await (const { container } of lxnsd.client.listContainers({})) {
        if (container!.cgroup.startsWith("/k8s.io/")) listed.push(container!);
      }
      const shape = (items: Array<{ id: string }>) => [...items].sort((a, b) => a.id.localeCompare(b.id));
      expect(shape(listed.map(({ id, name, pod, pid, sandbox, labels, runtime, cgroup }) => ({ id, name, pod: { uid: pod!.uid, namespace: pod!.namespace, name: pod!.name }, pid, sandbox, labels, runtime, cgroup })))).toEqual(shape(expected));
      // Each running one with its namespaces, as /proc says.
      for (const container of listed) {
        expect(container.namespaces.find((ns) => ns.type === NamespaceType.NET)?.nsId).toBe(nsInode(container.pid, "net"));
      }
      // Filtered by pod: its sandbox and containers only; with a container name, that one.
      const ofPod = [];
      for await (const { container } of lxnsd.client.listContainers({ pod: { namespace: web.namespace, name: web.name } })) ofPod.push(container!.id);
      expect(ofPod.sort()).toEqual([pod.id, app, sidecar].sort());
      const named = [];
      for await (const { container } of lxnsd.client.listContainers({ pod: { uid: web.uid, containerName: "sidecar" } })) named.push(container!.id);
      expect(named).toEqual([sidecar]);
      const got = await lxnsd.client.getContainer({ ref: byPod({ uid: web.uid }) });
      expect(got.container).toMatchObject({ id: pod.id, sandbox: true, pid: sandboxPid, pod: { uid: web.uid, namespace: web.namespace, name: web.name }, labels: { app: "web" } });
    } finally {
      cri.close();
    }
  });

  it_("names a pod or container the runtime does not know NOT_FOUND", async () => {
    for (const container of [byPod({ uid: randomUUID() }), byPod({ namespace: web.namespace, name: "no-such-pod" }), byPod({ uid: web.uid, containerName: "no-such" }), byId("0123456789abcdef0123")]) {
      await expect(lxnsd.client.inspect({ ref: ref(NamespaceType.NET, container) })).rejects.toMatchObject({ code: status.NOT_FOUND });
    }
  });

  it_("ListContainers lists a container created and never started, with pid 0", async () => {
    const created = await containerd!.createContainer(pod, { name: "created" });
    try {
      const listed = [];
      for await (const { container } of lxnsd.client.listContainers({ pod: { namespace: web.namespace, name: web.name } })) listed.push(container!);
      expect(listed.find((container) => container.id === created)).toMatchObject({ name: "created", pid: 0, cgroup: "", namespaces: [], pod: { uid: web.uid } });
      expect(listed.map((container) => container.id)).toEqual(expect.arrayContaining([pod.id, app, sidecar, created]));
    } finally {
      await containerd!.removeContainer(created);
    }
  });

  it_("pod-namespaces rules know the pod of a container from the runtime (its cgroup /k8s.io/ID names none) and its namespace from the sandbox", async () => {
    const [inTeam, elsewhere] = [newToken(), newToken()];
    const identities = [
      { name: "team-ops", scopes: ["read", "exec"], tokens: [tokenHash(inTeam)], targets: { "pod-namespaces": [web.namespace] } },
      { name: "other-ops", scopes: ["read", "exec"], tokens: [tokenHash(elsewhere)], targets: { "pod-namespaces": [`other-${suffix}`] } },
    ];
    const guarded = await startDaemon({ criEndpoint: containerd!.endpoint, podLogDir: podLogs, policyFile: writePolicy({ identities }) });
    const team = createClient(guarded.address, { token: inTeam });
    const other = createClient(guarded.address, { token: elsewhere });
    try {
      for (const source of [{ case: "pid" as const, value: appPid }, { case: "container" as const, value: byId(app) }, { case: "container" as const, value: byPod({ namespace: web.namespace, name: web.name }) }]) {
        // The pod's containers share its network namespace.
        expect((await team.inspect({ ref: { type: NamespaceType.NET, source } })).info?.nsId).toBe(nsInode(appPid, "net"));
        await expect(other.inspect({ ref: { type: NamespaceType.NET, source } })).rejects.toMatchObject({ code: status.PERMISSION_DENIED, reason: "TARGET_FORBIDDEN" });
      }
      // A process of no pod stays forbidden.
      await expect(team.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: process.pid } } })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      team.disconnect();
      other.disconnect();
      await guarded.stop();
    }
  });

  it_("a stopped container is FAILED_PRECONDITION (CONTAINER_NOT_RUNNING) by id and by name; once removed, NOT_FOUND", async () => {
    const job = await containerd!.runContainer(pod, { name: "job" });
    const jobPid = (await containerd!.statusPid(job))!;
    const { info } = await lxnsd.client.inspect({ ref: ref(NamespaceType.PID, byId(job)) });
    expect(info!.nsId).toBe(nsInode(jobPid, "pid"));
    await containerd!.stopContainer(job);
    // ListContainers lists it still, exited: pid 0, no cgroup, no namespaces (Container has no state field).
    const exited = { id: job, name: "job", pid: 0, cgroup: "", sandbox: false, runtime: "containerd", namespaces: [], pod: { uid: web.uid, namespace: web.namespace, name: web.name } };
    const all = [];
    for await (const { container } of lxnsd.client.listContainers({})) all.push(container!);
    expect(all.find((container) => container.id === job)).toMatchObject(exited);
    const named = [];
    for await (const { container } of lxnsd.client.listContainers({ pod: { uid: web.uid, containerName: "job" } })) named.push(container!);
    expect(named).toHaveLength(1);
    expect(named[0]).toMatchObject(exited);
    for (const container of [byId(job), byId(job.slice(0, 12)), byPod({ uid: web.uid, containerName: "job" })]) {
      await expect(lxnsd.client.run({ join: [ref(NamespaceType.NET, container)], argv: ["true"] })).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        reason: "CONTAINER_NOT_RUNNING",
      });
    }
    await containerd!.removeContainer(job);
    const afterRemoval = [];
    for await (const { container } of lxnsd.client.listContainers({})) afterRemoval.push(container!.id);
    expect(afterRemoval).not.toContain(job);
    // A miss (or a container not running) is looked up again in a walk that began after the call came: at once.
    for (const container of [byId(job), byPod({ uid: web.uid, containerName: "job" })]) {
      await expect(lxnsd.client.inspect({ ref: ref(NamespaceType.NET, container) })).rejects.toMatchObject({ code: status.NOT_FOUND });
    }
  });
});

describe("container references when the CRI runtime cannot be reached", () => {
  it("are UNAVAILABLE naming the endpoint when names are needed (a pod), and nothing runs", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-cri-gone-"));
    const endpoint = `unix://${path.join(dir, "containerd.sock")}`;
    const lxnsd = await startDaemon({ criEndpoint: endpoint, podLogDir: "" });
    try {
      for (const container of [byPod({ uid: randomUUID() }), byPod({ namespace: "default", name: "web", containerName: "app" })]) {
        const marker = path.join(dir, "ran");
        const err = await lxnsd.client.run({ join: [ref(NamespaceType.NET, container)], argv: ["touch", marker] }).then(() => undefined, (e: unknown) => e);
        expect(existsSync(marker)).toBe(false);
        expect(err).toMatchObject({ code: status.UNAVAILABLE, reason: "RUNTIME_UNAVAILABLE" });
        expect((err as Error).message).toContain(`container runtime at ${endpoint}, which is unreachable`);
        expect((err as LxnsdError).info?.metadata.endpoint).toBe(endpoint);
      }
    } finally {
      await lxnsd.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
