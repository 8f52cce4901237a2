import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../../helpers/container-cgroups";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

describeRoot("policy target rules: pod-namespaces", () => {
  let lxnsd: TestDaemon;
  let prod: LxnsdClient;
  let cgroups: ContainerCgroups;
  let logs: string;
  const targets: Target[] = [];
  const ids = { prod: randomContainerId(), dev: randomContainerId() };
  const pids: Record<string, number> = {};

  async function podProcess(namespace: string, id: string): Promise<number> {
    const uid = randomPodUid();
    mkdirSync(path.join(logs, "pods", `${namespace}_pod-${uid.slice(0, 6)}_${uid}`), { recursive: true });
    const target = await startTarget(["unshare", "--uts"]);
    targets.push(target);
    cgroups.add(cgroups.make(`kubepods/besteffort/pod${uid}/${id}`), target.pid);
    return target.pid;
  }

  beforeAll(async () => {
    logs = mkdtempSync(path.join(tmpdir(), "lxnsd-pod-logs-"));
    cgroups = new ContainerCgroups();
    pids.prod = await podProcess("prod", ids.prod);
    pids.dev = await podProcess("dev", ids.dev);
    const loose = await startTarget(["unshare", "--uts"]);
    targets.push(loose);
    pids.none = loose.pid;
    const token = newToken();
    lxnsd = await startDaemon({
      podLogDir: path.join(logs, "pods"),
      policyFile: writePolicy({ identities: [{ name: "prod-ops", scopes: ["read", "exec", "admin"], tokens: [tokenHash(token)], targets: { "pod-namespaces": ["prod"] } }] }),
    });
    prod = createClient(lxnsd.address, { token });
  });
  afterAll(async () => {
    prod?.disconnect();
    for (const target of targets) await target.kill();
    cgroups.removeAll();
    await lxnsd.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  const uts = (source: { case: "pid"; value: number } | { case: "container"; value: { selector: { case: "containerId"; value: string } } }) => ({ ref: { type: NamespaceType.UTS, source } });
  const byId = (value: string) => ({ case: "container" as const, value: { selector: { case: "containerId" as const, value } } });

  it("touches a process of a pod in an allowed namespace, by container or pid", async () => {
    expect((await prod.inspect(uts(byId(ids.prod)))).info?.nsId).toBe(nsInode(pids.prod, "uts"));
    expect((await prod.inspect(uts({ case: "pid", value: pids.prod }))).info?.nsId).toBe(nsInode(pids.prod, "uts"));
  });

  it("another namespace's pod, or a process of no pod, is PERMISSION_DENIED (TARGET_FORBIDDEN)", async () => {
    for (const source of [byId(ids.dev), { case: "pid" as const, value: pids.dev }, { case: "pid" as const, value: pids.none }]) {
      await expect(prod.inspect(uts(source))).rejects.toMatchObject({ code: status.PERMISSION_DENIED, reason: "TARGET_FORBIDDEN" });
    }
    await expect(prod.run({ argv: ["true"] })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it("ListContainers shows it only the containers it may touch", async () => {
    const seen: string[] = [];
    for await (const { container } of prod.listContainers({})) seen.push(container!.id);
    expect(seen).toContain(ids.prod);
    expect(seen).not.toContain(ids.dev);
    const all: string[] = [];
    for await (const { container } of lxnsd.client.listContainers({})) all.push(container!.id);
    expect(all).toEqual(expect.arrayContaining([ids.prod, ids.dev]));
  });
});
