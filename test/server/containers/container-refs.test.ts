import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../../client";
import type { ContainerRefSchema, NamespaceSummary } from "../../../client";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../../helpers/container-cgroups";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const sys = (uid: string) => uid.replace(/-/g, "_");

/** Every way a runtime and a cgroup driver name a container's cgroup; `pod`: below a kubepods pod cgroup. */
const FORMS: ReadonlyArray<{ form: string; cgroup: (id: string, uid: string) => string; pod: boolean }> = [
  { form: "containerd CRI systemd, burstable", cgroup: (id, uid) => `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${sys(uid)}.slice/cri-containerd-${id}.scope`, pod: true },
  { form: "containerd CRI systemd, besteffort", cgroup: (id, uid) => `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${sys(uid)}.slice/cri-containerd-${id}.scope`, pod: true },
  { form: "containerd CRI systemd, guaranteed", cgroup: (id, uid) => `kubepods.slice/kubepods-pod${sys(uid)}.slice/cri-containerd-${id}.scope`, pod: true },
  { form: "containerd CRI cgroupfs, burstable", cgroup: (id, uid) => `kubepods/burstable/pod${uid}/${id}`, pod: true },
  { form: "containerd CRI cgroupfs, besteffort", cgroup: (id, uid) => `kubepods/besteffort/pod${uid}/${id}`, pod: true },
  { form: "containerd CRI cgroupfs, guaranteed", cgroup: (id, uid) => `kubepods/pod${uid}/${id}`, pod: true },
  { form: "plain containerd", cgroup: (id) => `default/${id}`, pod: false },
  { form: "CRI-O systemd", cgroup: (id, uid) => `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${sys(uid)}.slice/crio-${id}.scope`, pod: true },
  { form: "Docker systemd", cgroup: (id) => `system.slice/docker-${id}.scope`, pod: false },
  { form: "Docker cgroupfs", cgroup: (id) => `docker/${id}`, pod: false },
  { form: "Podman", cgroup: (id) => `machine.slice/libpod-${id}.scope`, pod: false },
];

type ContainerRefInit = MessageInitShape<typeof ContainerRefSchema>;

const byId = (containerId: string): ContainerRefInit => ({ selector: { case: "containerId", value: containerId } });
const inspectNet = (lxnsd: TestDaemon, container: ContainerRefInit) => lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "container", value: container } } });

describeRoot("container references, from cgroups alone", () => {
  let lxnsd: TestDaemon;
  let cgroups: ContainerCgroups;
  let logs: string;
  const targets: Target[] = [];

  /** A process in fresh namespaces moved into `cgroup`. */
  async function containerProcess(cgroup: string): Promise<Target> {
    const target = await startTarget(["unshare", "--net", "--uts", "--ipc"]);
    targets.push(target);
    cgroups.add(cgroup, target.pid);
    return target;
  }

  /** kubelet's log directory of a pod, and its link naming one container. */
  function podLogs(namespace: string, name: string, uid: string, containers: Record<string, string> = {}): void {
    const podDir = path.join(logs, "pods", `${namespace}_${name}_${uid}`);
    mkdirSync(podDir, { recursive: true });
    for (const [containerName, id] of Object.entries(containers)) {
      mkdirSync(path.join(podDir, containerName), { recursive: true });
      writeFileSync(path.join(podDir, containerName, "0.log"), "");
      symlinkSync(path.join(podDir, containerName, "0.log"), path.join(logs, "containers", `${name}_${namespace}_${containerName}-${id}.log`));
    }
  }

  beforeAll(async () => {
    logs = mkdtempSync(path.join(tmpdir(), "lxnsd-pod-logs-"));
    mkdirSync(path.join(logs, "pods"));
    mkdirSync(path.join(logs, "containers"));
    cgroups = new ContainerCgroups();
    lxnsd = await startDaemon({ podLogDir: path.join(logs, "pods") });
  });
  afterAll(async () => {
    for (const target of targets) await target.kill();
    cgroups.removeAll();
    await lxnsd.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  it.each(FORMS.map((form) => [form.form, form] as const))("%s: by full id, 12-digit prefix and the runtime:// form", async (_name, form) => {
    const id = randomContainerId();
    const target = await containerProcess(cgroups.make(form.cgroup(id, randomPodUid())));
    for (const selector of [id, id.slice(0, 12), `containerd://${id}`, `cri-o://${id.slice(0, 20)}`, `docker://${id.toUpperCase()}`]) {
      const { info } = await inspectNet(lxnsd, byId(selector));
      expect(info?.nsId).toBe(nsInode(target.pid, "net"));
    }
  });

  it("by cgroup path, as /proc/PID/cgroup shows it, and from below the container's cgroup", async () => {
    const id = randomContainerId();
    const cgroup = cgroups.make(`system.slice/docker-${id}.scope`);
    const target = await containerProcess(cgroup);
    for (const value of [cgroup, `/../..${cgroup}`, `${cgroup}/init.scope`]) {
      const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.UTS, source: { case: "container", value: { selector: { case: "cgroup", value } } } } });
      expect(info?.nsId).toBe(nsInode(target.pid, "uts"));
    }
  });

  it("a container's process is its init: in the cgroup, its parent not; of several such, the one started first", async () => {
    const id = randomContainerId();
    const cgroup = cgroups.make(`docker/${id}`);
    // unshare --fork: the launcher (unshare) and its child both in the cgroup; the launcher's parent is not.
    const launched = await startTarget(["unshare", "--uts", "--fork"]);
    targets.push(launched);
    cgroups.add(cgroup, launched.launcher.pid!);
    cgroups.add(cgroup, launched.pid);
    const exec = await containerProcess(cgroup); // like a `docker exec`: started later, parent outside
    const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.UTS, source: { case: "container", value: byId(id) } } });
    expect(info?.nsId).toBe(nsInode(launched.launcher.pid!, "uts"));
    expect(info?.nsId).not.toBe(nsInode(exec.pid, "uts"));
  });

  it("the monitors (crio-conmon, libpod-conmon) are not containers", async () => {
    const id = randomContainerId();
    await containerProcess(cgroups.make(`machine.slice/libpod-conmon-${id}.scope`));
    await containerProcess(cgroups.make(`kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${sys(randomPodUid())}.slice/crio-conmon-${id}.scope`));
    await expect(inspectNet(lxnsd, byId(id))).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("a pod: by uid its sandbox (its container started first), by namespace/name, and one container by name", async () => {
    const uid = randomPodUid();
    const [sandboxId, appId] = [randomContainerId(), randomContainerId()];
    const podCgroup = `kubepods/besteffort/pod${uid}`;
    const sandbox = await containerProcess(cgroups.make(`${podCgroup}/${sandboxId}`));
    const app = await containerProcess(cgroups.make(`${podCgroup}/${appId}`));
    const name = `web-${uid.slice(0, 6)}`;
    podLogs("shop", name, uid, { app: appId });
    const pod = (fields: { uid?: string; namespace?: string; name?: string; containerName?: string }): ContainerRefInit => ({ selector: { case: "pod", value: fields } });
    expect((await inspectNet(lxnsd, pod({ uid }))).info?.nsId).toBe(nsInode(sandbox.pid, "net"));
    expect((await inspectNet(lxnsd, pod({ namespace: "shop", name }))).info?.nsId).toBe(nsInode(sandbox.pid, "net"));
    expect((await inspectNet(lxnsd, pod({ namespace: "shop", name, containerName: "app" }))).info?.nsId).toBe(nsInode(app.pid, "net"));
    expect((await inspectNet(lxnsd, pod({ uid, containerName: "app" }))).info?.nsId).toBe(nsInode(app.pid, "net"));
    await expect(inspectNet(lxnsd, pod({ uid, containerName: "nope" }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(inspectNet(lxnsd, pod({ namespace: "shop", name: "other" }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(inspectNet(lxnsd, pod({ uid: randomPodUid() }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(inspectNet(lxnsd, pod({ namespace: "shop" }))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("an ambiguous prefix is INVALID_ARGUMENT naming the candidates; short or not hex: INVALID_ARGUMENT; unknown: NOT_FOUND", async () => {
    const shared = randomContainerId().slice(0, 14);
    const ids = [randomContainerId(shared), randomContainerId(shared)];
    for (const id of ids) await containerProcess(cgroups.make(`default/${id}`));
    const ambiguous = inspectNet(lxnsd, byId(shared));
    await expect(ambiguous).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await ambiguous.catch((err: Error) => {
      for (const id of ids) expect(err.message).toContain(id.slice(0, 16));
    });
    await expect(inspectNet(lxnsd, byId(ids[0].slice(0, 11)))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(inspectNet(lxnsd, byId("not-hex-at-all"))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(inspectNet(lxnsd, byId(randomContainerId()))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.inspect({ ref: { source: { case: "container", value: byId(ids[0]) } } })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("a container whose process exited, or whose cgroup was removed, between two calls is NOT_FOUND or not running, never another process", async () => {
    const [first, second] = [randomContainerId(), randomContainerId()];
    const firstCgroup = cgroups.make(`docker/${first}`);
    const secondCgroup = cgroups.make(`docker/${second}`);
    const one = await containerProcess(firstCgroup);
    const two = await containerProcess(secondCgroup);
    expect((await inspectNet(lxnsd, byId(first))).info?.nsId).toBe(nsInode(one.pid, "net"));
    expect((await inspectNet(lxnsd, byId(second))).info?.nsId).toBe(nsInode(two.pid, "net"));
    await one.kill();
    await expect(inspectNet(lxnsd, byId(first))).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, message: expect.stringContaining("not running") });
    cgroups.remove(secondCgroup); // its process moved out to the root: no longer the container's
    await expect(inspectNet(lxnsd, byId(second))).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("joins a container's namespaces in Run", async () => {
    const id = randomContainerId();
    const target = await containerProcess(cgroups.make(`system.slice/docker-${id}.scope`));
    const result = await lxnsd.client.run({
      join: [{ type: NamespaceType.NET, source: { case: "container", value: byId(id.slice(0, 12)) } }],
      argv: ["readlink", "/proc/self/ns/net"],
    });
    expect(result.exit?.code).toBe(0);
    expect(result.stdout.toString().trim()).toBe(`net:[${nsInode(target.pid, "net")}]`);
  });

  it("ListContainers and GetContainer: ids, names, pod, init pid, cgroup, runtime, sandbox and namespaces as /proc says", async () => {
    const uid = randomPodUid();
    const [sandboxId, appId] = [randomContainerId(), randomContainerId()];
    const podCgroup = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${sys(uid)}.slice`;
    const sandboxCgroup = cgroups.make(`${podCgroup}/cri-containerd-${sandboxId}.scope`);
    const sandbox = await containerProcess(sandboxCgroup);
    const app = await containerProcess(cgroups.make(`${podCgroup}/cri-containerd-${appId}.scope`));
    const name = `api-${uid.slice(0, 6)}`;
    podLogs("prod", name, uid, { server: appId });
    const listed = [];
    for await (const { container } of lxnsd.client.listContainers({ pod: { uid } })) listed.push(container!);
    expect(listed.map((container) => container.id).sort()).toEqual([sandboxId, appId].sort());
    const [s, a] = [listed.find((c) => c.id === sandboxId)!, listed.find((c) => c.id === appId)!];
    expect(s).toMatchObject({ pid: sandbox.pid, sandbox: true, runtime: "containerd", cgroup: sandboxCgroup, pod: { uid, namespace: "prod", name } });
    expect(a).toMatchObject({ pid: app.pid, sandbox: false, name: "server", pod: { uid, namespace: "prod", name } });
    expect(a.namespaces.find((ns) => ns.type === NamespaceType.NET)?.nsId).toBe(nsInode(app.pid, "net"));
    expect(a.namespaces.find((ns) => ns.type === NamespaceType.UTS)?.nsId).toBe(nsInode(app.pid, "uts"));
    const all = [];
    for await (const { container } of lxnsd.client.listContainers({})) all.push(container!.id);
    expect(all).toEqual(expect.arrayContaining([sandboxId, appId]));
    const got = await lxnsd.client.getContainer({ ref: byId(`containerd://${appId.slice(0, 12)}`) });
    expect(got.container).toMatchObject({ id: appId, pid: app.pid, name: "server" });
    const bySandbox = await lxnsd.client.getContainer({ ref: { selector: { case: "pod", value: { namespace: "prod", name } } } });
    expect(bySandbox.container).toMatchObject({ id: sandboxId, sandbox: true });
    await expect(lxnsd.client.getContainer({ ref: byId(randomContainerId()) })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("ListNamespaces: the container filter lists that container's namespaces; summaries name the container and pod of their lowest pid", async () => {
    const uid = randomPodUid();
    const id = randomContainerId();
    const target = await containerProcess(cgroups.make(`kubepods/pod${uid}/${id}`));
    const rows: NamespaceSummary[] = [];
    for await (const { summary } of lxnsd.client.listNamespaces({ container: byId(id) })) rows.push(summary!);
    const ids = (type: NamespaceType) => rows.filter((row) => row.info?.type === type).map((row) => row.info?.nsId);
    expect(ids(NamespaceType.NET)).toEqual([nsInode(target.pid, "net")]);
    expect(ids(NamespaceType.UTS)).toEqual([nsInode(target.pid, "uts")]);
    expect(rows).toHaveLength(8);
    const net = rows.find((row) => row.info?.type === NamespaceType.NET)!;
    expect(net).toMatchObject({ pid: target.pid, containerId: id, podUid: uid });
    const mnt = rows.find((row) => row.info?.type === NamespaceType.MNT)!;
    expect(mnt.containerId).toBe(""); // the host's mount namespace: its lowest pid is in no container
    await expect((async () => {
      for await (const _ of lxnsd.client.listNamespaces({ container: byId(randomContainerId()) })) void _;
    })()).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect((async () => {
      for await (const _ of lxnsd.client.listNamespaces({ pid: target.pid, container: byId(id) })) void _;
    })()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("Open, Pin and GetLimit take a container reference too", async () => {
    const id = randomContainerId();
    const target = await startTarget(["unshare", "--user", "--map-root-user", "--net"]);
    targets.push(target);
    cgroups.add(cgroups.make(`docker/${id}`), target.pid);
    const ref = { type: NamespaceType.NET, source: { case: "container" as const, value: byId(id) } };
    const { handle } = await lxnsd.client.open({ ref });
    expect(handle?.info?.nsId).toBe(nsInode(target.pid, "net"));
    await lxnsd.client.close({ handle: handle!.id });
    const name = `ctr-${id.slice(0, 8)}`;
    const { path: pinned } = await lxnsd.client.pin({ ref, name });
    try {
      expect((await lxnsd.client.inspect({ ref: { source: { case: "path", value: pinned } } })).info?.nsId).toBe(nsInode(target.pid, "net"));
    } finally {
      await lxnsd.client.unpin({ name });
    }
    const limit = await lxnsd.client.getLimit({ type: NamespaceType.NET, userNamespace: { source: { case: "container", value: byId(id) } } });
    expect(limit.value).toBeGreaterThan(0n);
  });
});
