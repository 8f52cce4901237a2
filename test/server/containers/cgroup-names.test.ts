import { sameCgroup } from "../../../server/containers/container-index";
import { cgroupOfLine, containerAbove, containerOfCgroup, lineOfHost, parseContainerId, podUidOfCgroup } from "../../../server/containers/cgroup-names";

const ID = "4f1e6c3b2a1d0e9f8c7b6a5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f";
const UID = "0b7c3a2e-9d1f-4e5a-8b6c-1d2e3f4a5b6c";
const SYS = UID.replace(/-/g, "_");

describe("cgroup names", () => {
  it.each([
    // containerd CRI, systemd driver, all three QoS classes (guaranteed has no QoS level)
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SYS}.slice/cri-containerd-${ID}.scope`, "containerd", UID],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${SYS}.slice/cri-containerd-${ID}.scope`, "containerd", UID],
    [`/kubepods.slice/kubepods-pod${SYS}.slice/cri-containerd-${ID}.scope`, "containerd", UID],
    // containerd CRI, cgroupfs driver
    [`/kubepods/burstable/pod${UID}/${ID}`, "containerd", UID],
    [`/kubepods/besteffort/pod${UID}/${ID}`, "containerd", UID],
    [`/kubepods/pod${UID}/${ID}`, "containerd", UID],
    // plain containerd
    [`/default/${ID}`, "containerd", undefined],
    [`/k8s.io/${ID}`, "containerd", undefined],
    // CRI-O, both drivers
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SYS}.slice/crio-${ID}.scope`, "cri-o", UID],
    [`/kubepods/besteffort/pod${UID}/crio-${ID}`, "cri-o", UID],
    // Docker
    [`/system.slice/docker-${ID}.scope`, "docker", undefined],
    [`/docker/${ID}`, "docker", undefined],
    // Podman
    [`/machine.slice/libpod-${ID}.scope`, "podman", undefined],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, "podman", undefined],
    // seen from inside a cgroup namespace
    [`/../../kubepods-burstable-pod${SYS}.slice/cri-containerd-${ID}.scope`, "containerd", UID],
    [`/../../../docker/${ID}`, "docker", undefined],
    // kind's nested kubelet root
    [`/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${SYS}.slice/cri-containerd-${ID}.scope`, "containerd", UID],
  ])("%s is a %s container", (path, runtime, podUid) => {
    const found = containerOfCgroup(path);
    expect(found?.id).toBe(ID);
    expect(found?.runtime).toBe(runtime);
    if (podUid) expect(found?.podUid).toBe(podUid);
  });

  it.each([
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SYS}.slice/crio-conmon-${ID}.scope`],
    [`/machine.slice/libpod-conmon-${ID}.scope`],
    [`/kubepods/burstable/pod${UID}`],
    [`/kubepods.slice/kubepods-pod${SYS}.slice`],
    [`/system.slice/containerd.service`],
    [`/`],
    [`/user.slice/user-0.slice/session-1.scope`],
    [`/${ID}`],
    [`/docker/${ID.slice(1)}`],
    [`/system.slice/docker-${ID}.scope.d`],
  ])("%s is no container", (path) => {
    expect(containerOfCgroup(path)).toBeUndefined();
  });

  it("reads the pod uid of a pod cgroup of both drivers and all QoS classes", () => {
    for (const qos of ["", "burstable", "besteffort"]) {
      const systemd = qos ? `/kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${SYS}.slice` : `/kubepods.slice/kubepods-pod${SYS}.slice`;
      const cgroupfs = qos ? `/kubepods/${qos}/pod${UID}` : `/kubepods/pod${UID}`;
      expect(podUidOfCgroup(systemd)).toBe(UID);
      expect(podUidOfCgroup(cgroupfs)).toBe(UID);
    }
    const staticUid = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    expect(podUidOfCgroup(`/kubepods/pod${staticUid}/${ID}`)).toBe(staticUid);
    expect(podUidOfCgroup(`/other/pod${UID}`)).toBeUndefined();
  });

  it("finds the container above a process's own cgroup", () => {
    expect(containerAbove(`/docker/${ID}/init.scope`)).toEqual({ container: { id: ID, runtime: "docker" }, cgroup: `/docker/${ID}` });
    expect(containerAbove(`/../docker/${ID}`)?.cgroup).toBe(`/docker/${ID}`);
    expect(containerAbove(`/user.slice`)).toBeUndefined();
  });

  it("picks the 0:: line on cgroup v2 and name=systemd on v1 and hybrid hosts", () => {
    const hybrid = "12:pids:/a\n1:name=systemd:/system.slice/x.scope\n0::/unified/y\n";
    expect(cgroupOfLine(hybrid, "name=systemd")).toBe("/system.slice/x.scope");
    expect(cgroupOfLine(hybrid, "0::")).toBe("/unified/y");
    expect(lineOfHost(hybrid)).toBe("name=systemd");
    expect(lineOfHost("0::/init.scope\n")).toBe("0::");
    expect(cgroupOfLine("0::/a:b\n", "0::")).toBe("/a:b");
    expect(cgroupOfLine("5:cpu,cpuacct:/a\n", "0::")).toBeUndefined();
  });

  it("accepts the forms of a container id a pod status shows", () => {
    expect(parseContainerId(`containerd://${ID}`)).toEqual({ prefix: ID, runtime: "containerd" });
    expect(parseContainerId(`cri-o://${ID.slice(0, 12)}`)).toEqual({ prefix: ID.slice(0, 12), runtime: "cri-o" });
    expect(parseContainerId(`docker://${ID.toUpperCase()}`)).toEqual({ prefix: ID, runtime: "docker" });
    expect(parseContainerId(ID)).toEqual({ prefix: ID });
    expect(parseContainerId("podman://abc")).toBeUndefined();
    expect(parseContainerId("xyz")).toBeUndefined();
    expect(parseContainerId(`${ID}0`)).toBeUndefined();
  });

  it("compares cgroups, a path seen from inside a cgroup namespace by its end", () => {
    const full = `/kubepods.slice/kubepods-pod${SYS}.slice/cri-containerd-${ID}.scope`;
    expect(sameCgroup(full, full)).toBe(true);
    expect(sameCgroup(`/../../kubepods-pod${SYS}.slice/cri-containerd-${ID}.scope`, full)).toBe(true);
    expect(sameCgroup(full, `/../cri-containerd-${ID}.scope`)).toBe(true);
    expect(sameCgroup(`/../cri-containerd-${ID}.scope`, `/docker/${ID}`)).toBe(false);
    expect(sameCgroup(`/a/${ID}`, `/b/${ID}`)).toBe(false);
    expect(sameCgroup("/..", full)).toBe(false);
  });
});
