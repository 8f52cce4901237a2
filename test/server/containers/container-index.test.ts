import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { GetContainerRequestSchema } from "../../../api/gen/lxnsd/v1/container_service_pb";
import { ContainerRefSchema } from "../../../api/gen/lxnsd/v1/types_pb";
import { ContainerIndex } from "../../../server/containers/container-index";
import { ContainerTargets } from "../../../server/containers/container-targets";
import { cgroup2Mount } from "../../helpers/cgroup";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../../helpers/container-cgroups";
import { describeRoot } from "../../helpers/privileged";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const byId = (value: string) => create(ContainerRefSchema, { selector: { case: "containerId", value } });

describe.each([
  ["cgroup v2 (0:: line)", "0::" as const, (): string => cgroup2Mount()],
  ["the name=systemd v1 hierarchy", "name=systemd" as const, (): string => "/sys/fs/cgroup/systemd"],
])("the container index on %s", (_name, line, mount) => {
  describeRoot("", () => {
    let cgroups: ContainerCgroups;
    let targets: ContainerTargets;
    const started: Target[] = [];

    beforeAll(() => {
      cgroups = new ContainerCgroups(mount());
      targets = new ContainerTargets(new ContainerIndex({ root: mount(), line, podLogDir: "", maxAgeMs: 60_000 }));
    });
    afterAll(async () => {
      for (const target of started) await target.kill();
      cgroups.removeAll();
    });

    async function inContainer(cgroup: string): Promise<Target> {
      const target = await startTarget(["unshare", "--uts"]);
      started.push(target);
      cgroups.add(cgroup, target.pid);
      return target;
    }

    it("finds a container made after its last walk once a request names it (prepare), not before", async () => {
      await targets.index.refresh();
      const id = randomContainerId();
      const target = await inContainer(cgroups.make(`kubepods.slice/kubepods-pod${randomPodUid().replace(/-/g, "_")}.slice/cri-containerd-${id}.scope`));
      expect(() => targets.choose(byId(id), "ref")).toThrow(expect.objectContaining({ code: status.NOT_FOUND }));
      await new Promise((resolve) => setTimeout(resolve, 60));
      await targets.prepare(create(GetContainerRequestSchema, { ref: byId(id) }));
      const chosen = targets.choose(byId(id), "ref");
      expect(chosen.pid).toBe(target.pid);
      expect(() => targets.confirm(chosen)).not.toThrow();
    });

    it("finds containers from the processes' cgroups alone when its own tree shows none (a sidecar), and confirms them the same way", async () => {
      const empty = mkdtempSync(path.join(tmpdir(), "lxnsd-no-cgroups-"));
      try {
        const sidecar = new ContainerTargets(new ContainerIndex({ root: empty, line, podLogDir: "" }));
        const id = randomContainerId();
        const cgroup = cgroups.make(`kubepods/burstable/pod${randomPodUid()}/${id}`);
        const launched = await startTarget(["unshare", "--uts", "--fork"]);
        started.push(launched);
        cgroups.add(cgroup, launched.launcher.pid!);
        cgroups.add(cgroup, launched.pid);
        await sidecar.index.refresh();
        const chosen = sidecar.choose(byId(id.slice(0, 12)), "ref");
        expect(chosen.container).toMatchObject({ id, dir: "", cgroup });
        expect(chosen.pid).toBe(launched.launcher.pid); // its init: the one whose parent is outside
        expect(() => sidecar.confirm(chosen)).not.toThrow();
        cgroups.add("/", chosen.pid);
        expect(() => sidecar.confirm(chosen)).toThrow(expect.objectContaining({ code: status.NOT_FOUND }));
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it("confirm() is NOT_FOUND once the chosen process has left the container's cgroup (a restart between choosing and pinning)", async () => {
      const id = randomContainerId();
      const cgroup = cgroups.make(`docker/${id}`);
      await inContainer(cgroup);
      await targets.index.refresh();
      const chosen = targets.choose(byId(id), "ref");
      cgroups.add("/", chosen.pid); // moved out to the root: as if the container restarted
      expect(() => targets.confirm(chosen)).toThrow(expect.objectContaining({ code: status.NOT_FOUND, reason: "CONTAINER_NOT_FOUND" }));
    });
  });
});
