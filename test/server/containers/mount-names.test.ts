import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../../client";
import type { Container } from "../../../client";
import { ContainerIndex } from "../../../server/containers/container-index";
import { lineOfHost } from "../../../server/containers/cgroup-names";
import { mountNameOf } from "../../../server/containers/mount-names";
import { captureCli } from "../../helpers/cli";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../../helpers/container-cgroups";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const hex8 = () => randomBytes(4).toString("hex");

describe("mountNameOf", () => {
  const uid = "0b8c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
  const kubelet = { root: "/var/lib/kubelet" };
  const line = (root: string, point: string, device = "8:1") => `1234 1200 ${device} ${root} ${point} rw,relatime - ext4 /dev/sda1 rw`;

  it("reads the container name and pod uid of kubelet's termination log mount, and the pod uid of its /etc/hosts", () => {
    const text = [line("/", "/"), line(`/var/lib/kubelet/pods/${uid}/etc-hosts`, "/etc/hosts"), line(`/var/lib/kubelet/pods/${uid}/containers/app/9f86d081`, "/dev/termination-log")].join("\n");
    expect(mountNameOf(text, kubelet)).toEqual({ podUid: uid, name: "app" });
    expect(mountNameOf(line(`/var/lib/kubelet/pods/${uid}/etc-hosts`, "/etc/hosts"), kubelet)).toEqual({ podUid: uid });
    expect(mountNameOf(line("/", "/"), kubelet)).toBeUndefined();
  });

  it("takes only kubelet's root on kubelet's filesystem: not a look-alike path in a volume or on another device; not two pods", () => {
    const inVolume = `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/data/x/var/lib/kubelet/pods/${uid}/containers/admin/9f86d081`;
    expect(mountNameOf(line(inVolume, "/dev/termination-log"), kubelet)).toBeUndefined();
    const log = line(`/var/lib/kubelet/pods/${uid}/containers/app/9f86d081`, "/dev/termination-log", "0:77");
    expect(mountNameOf(log, { root: "/var/lib/kubelet", device: "8:1" })).toBeUndefined();
    expect(mountNameOf(log, { root: "/var/lib/kubelet", device: "0:77" })).toEqual({ podUid: uid, name: "app" });
    const other = "1a2b3c4d-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    const two = [line(`/var/lib/kubelet/pods/${uid}/etc-hosts`, "/etc/hosts"), line(`/var/lib/kubelet/pods/${other}/containers/app/9f86d081`, "/dev/termination-log")].join("\n");
    expect(mountNameOf(two, kubelet)).toBeUndefined();
  });
});

describeRoot("container names from kubelet's mounts (no CRI, no pod log dir): what a sidecar sees", () => {
  let lxnsd: TestDaemon;
  let cgroups: ContainerCgroups;
  /** A tmpfs standing for the node's disk: kubelet's directories below it, as mountinfo root fields show them. */
  let disk: string;
  const targets: Target[] = [];
  const uid = randomPodUid();
  const ids = { pause: randomContainerId(), app: randomContainerId(), web: randomContainerId(), hostsOnly: randomContainerId(), evil: randomContainerId(), fake: randomContainerId() };
  const pids: Record<string, number> = {};
  const cli = (argv: string[]) => captureCli(["--address", lxnsd.address, ...argv]);

  /** A file on the tmpfs at `relative`, made with its directories. */
  function diskFile(relative: string): string {
    const file = path.join(disk, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "");
    return file;
  }

  /**
   * A process in `cgroup` (joined first) in new net and mount namespaces, with
   * kubelet's bind mounts at /dev/termination-log (`log`) and /etc/hosts (`hosts`).
   */
  async function containerProcess(cgroup: string, log?: string, hosts?: string): Promise<Target> {
    const procs = path.join(cgroups.root, cgroup, "cgroup.procs");
    const steps = ['mount -t tmpfs lxnsd-dev /dev && touch /dev/termination-log', log ? 'mount --bind "$1" /dev/termination-log' : "true", hosts ? 'mount --bind "$2" /etc/hosts' : "true", 'shift 2 && exec "$@"'];
    const inner = steps.join(" && ");
    const target = await startTarget(["sh", "-c", `echo $$ > ${procs} && exec unshare --net --mount --propagation private sh -c '${inner}' sh "${log ?? "-"}" "${hosts ?? "-"}" "$@"`, "sh"]);
    targets.push(target);
    return target;
  }

  beforeAll(async () => {
    disk = mkdtempSync(path.join(tmpdir(), "lxnsd-node-disk-"));
    execFileSync("mount", ["-t", "tmpfs", `lxnsd-disk-${hex8()}`, disk]);
    cgroups = new ContainerCgroups();
    const pods = "var/lib/kubelet/pods";
    const hosts = diskFile(`${pods}/${uid}/etc-hosts`);
    // The pod's sandbox has no kubelet mounts; it starts first.
    pids.pause = (await containerProcess(cgroups.make(`k8s.io/${ids.pause}`))).pid;
    pids.app = (await containerProcess(cgroups.make(`k8s.io/${ids.app}`), diskFile(`${pods}/${uid}/containers/app/${hex8()}`), hosts)).pid;
    pids.web = (await containerProcess(cgroups.make(`k8s.io/${ids.web}`), diskFile(`${pods}/${uid}/containers/web/${hex8()}`), hosts)).pid;
    pids.hostsOnly = (await containerProcess(cgroups.make(`k8s.io/${ids.hostsOnly}`), undefined, hosts)).pid;
    // Its cgroup says another pod: its mounts' claim is not believed.
    const other = randomPodUid();
    pids.evil = (await containerProcess(cgroups.make(`kubepods/besteffort/pod${other}/${ids.evil}`), diskFile(`${pods}/${uid}/containers/evil/${hex8()}`))).pid;
    // Not below kubelet's root on its filesystem.
    pids.fake = (await containerProcess(cgroups.make(`k8s.io/${ids.fake}`), diskFile(`elsewhere/pods/${uid}/containers/fake/${hex8()}`))).pid;
    lxnsd = await startDaemon({ podLogDir: "", criEndpoint: "" });
  });
  afterAll(async () => {
    for (const target of targets) await target.kill();
    cgroups.removeAll();
    await lxnsd?.stop();
    execFileSync("umount", [disk]);
    rmdirSync(disk);
  });

  const pod = (fields: { uid?: string; containerName?: string }) => ({ selector: { case: "pod" as const, value: fields } });
  const inspectNet = (ref: ReturnType<typeof pod>) => lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "container", value: ref } } });

  it("mountinfo shows the bind mount's source as its path within the tmpfs, at /dev/termination-log", () => {
    const line = readFileSync(`/proc/${pids.app}/mountinfo`, "utf8").split("\n").find((entry) => entry.split(" ")[4] === "/dev/termination-log");
    expect(line?.split(" ")[3]).toMatch(new RegExp(`^/var/lib/kubelet/pods/${uid}/containers/app/[0-9a-f]{8}$`));
  });

  it("--pod-uid UID with a container name resolves to that container's process", async () => {
    expect((await inspectNet(pod({ uid, containerName: "app" }))).info?.nsId).toBe(nsInode(pids.app, "net"));
    expect((await inspectNet(pod({ uid, containerName: "web" }))).info?.nsId).toBe(nsInode(pids.web, "net"));
    const result = await cli(["exec", "--pod-uid", uid, "--container-name", "web", "-n", "--", "readlink", "/proc/self/ns/net"]);
    expect(result).toMatchObject({ code: 0, stdout: `net:[${nsInode(pids.web, "net")}]\n` });
  });

  it("GetContainer and ListContainers show the name and pod uid; a container with only /etc/hosts has the pod, no name", async () => {
    const { container } = await lxnsd.client.getContainer({ ref: { selector: { case: "containerId", value: ids.app } } });
    expect(container).toMatchObject({ id: ids.app, name: "app", pid: pids.app, pod: { uid } });
    const listed: Container[] = [];
    for await (const response of lxnsd.client.listContainers({ pod: { uid } })) listed.push(response.container!);
    expect(listed.map((c) => [c.id, c.name]).sort()).toEqual([[ids.app, "app"], [ids.web, "web"], [ids.hostsOnly, ""]].sort());
  });

  it("a name is not taken from a mount of another pod than the cgroup says, nor from outside kubelet's root", async () => {
    await expect(inspectNet(pod({ uid, containerName: "evil" }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(inspectNet(pod({ uid, containerName: "fake" }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    const { container } = await lxnsd.client.getContainer({ ref: { selector: { case: "containerId", value: ids.evil } } });
    expect(container?.name).toBe("");
  });

  it("in a pod, only mounts of the filesystem of the daemon's own termination log count", async () => {
    const line = lineOfHost(readFileSync("/proc/self/cgroup", "utf8"));
    const device = readFileSync(`/proc/${pids.app}/mountinfo`, "utf8").split("\n").find((entry) => entry.split(" ")[4] === "/dev/termination-log")!.split(" ")[2];
    const indexOn = async (kubeletDevice: string) => {
      const index = new ContainerIndex({ root: cgroups.root, line, podLogDir: "", kubelet: { root: "/var/lib/kubelet", device: kubeletDevice } });
      await index.refresh();
      return index.byId(ids.app);
    };
    expect(await indexOn(device)).toMatchObject({ name: "app", podUid: uid });
    expect((await indexOn("0:1"))?.name).toBeUndefined();
  });

  it("a sidecar's index, which finds the containers from the processes' cgroups (its own tree shows none), names them too", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "lxnsd-no-cgroups-"));
    try {
      const index = new ContainerIndex({ root: empty, line: lineOfHost(readFileSync("/proc/self/cgroup", "utf8")), podLogDir: "" });
      await index.refresh();
      expect(index.byId(ids.web)).toMatchObject({ dir: "", name: "web", podUid: uid });
      expect(index.byId(ids.pause)?.name).toBeUndefined();
    } finally {
      rmdirSync(empty);
    }
  });
});
