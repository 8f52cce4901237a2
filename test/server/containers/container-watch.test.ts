import * as path from "node:path";
import { EventKind, NamespaceType, status } from "../../../client";
import type { WatchNamespacesResponse } from "../../../api/gen/lxnsd/v1/namespace_service_pb";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../../helpers/container-cgroups";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { nsInode, waitFor } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const sys = (uid: string) => uid.replace(/-/g, "_");
const INTERVAL = { seconds: 0n, nanos: 200_000_000 };

describeRoot("WatchNamespaces names the container and pod of each namespace's lowest pid", () => {
  let lxnsd: TestDaemon;
  let cgroups: ContainerCgroups;
  const targets: Target[] = [];

  beforeAll(async () => {
    cgroups = new ContainerCgroups();
    lxnsd = await startDaemon();
  });
  afterAll(async () => {
    for (const target of targets) await target.kill();
    cgroups.removeAll();
    await lxnsd.stop();
  });

  /** A process that joins `cgroup` first, then makes new net and uts namespaces: they never exist outside it. */
  async function containerProcess(cgroup: string): Promise<Target> {
    const procs = path.join(cgroups.root, cgroup, "cgroup.procs");
    const target = await startTarget(["sh", "-c", `echo $$ > ${procs} && exec "$@"`, "sh", "unshare", "--net", "--uts"]);
    targets.push(target);
    return target;
  }

  it("ADDED (in the first set and later) and REMOVED events carry container_id and pod_uid, as ListNamespaces does", async () => {
    const uid = randomPodUid();
    const [before, later] = [randomContainerId(), randomContainerId()];
    const pod = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${sys(uid)}.slice`;
    const first = await containerProcess(cgroups.make(`${pod}/cri-containerd-${before}.scope`));
    const controller = new AbortController();
    const events: WatchNamespacesResponse[] = [];
    const done = (async () => {
      try {
        for await (const event of lxnsd.client.watchNamespaces({ types: [NamespaceType.NET], interval: INTERVAL }, { signal: controller.signal })) events.push(event);
      } catch (err) {
        if ((err as { code?: number }).code !== status.CANCELLED) throw err;
      }
    })();
    const find = (kind: EventKind, ino: bigint) => events.find((e) => e.kind === kind && e.summary?.info?.nsId === ino);
    try {
      const firstNet = nsInode(first.pid, "net");
      await waitFor(() => find(EventKind.ADDED, firstNet) !== undefined, 5000, "the first set");
      expect(find(EventKind.ADDED, firstNet)?.summary).toMatchObject({ pid: first.pid, containerId: before, podUid: uid });
      // The host's net namespace: its lowest pid is in no container.
      expect(find(EventKind.ADDED, nsInode("self", "net"))?.summary).toMatchObject({ containerId: "", podUid: "" });

      const second = await containerProcess(cgroups.make(`kubepods/besteffort/pod${uid}/${later}`));
      const secondNet = nsInode(second.pid, "net");
      await waitFor(() => find(EventKind.ADDED, secondNet) !== undefined, 5000, "ADDED");
      expect(find(EventKind.ADDED, secondNet)?.summary).toMatchObject({ pid: second.pid, containerId: later, podUid: uid });

      // Removed: the process is gone, its place is the one the watch saw it in.
      await second.kill();
      await waitFor(() => find(EventKind.REMOVED, secondNet) !== undefined, 5000, "REMOVED");
      expect(find(EventKind.REMOVED, secondNet)?.summary).toMatchObject({ pid: second.pid, containerId: later, podUid: uid });
    } finally {
      controller.abort();
      await done;
    }
  });
});
