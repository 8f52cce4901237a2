import { NamespaceType, Relation, status } from "../../client";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsDevice, nsInode } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

const ALL_TYPES = ["--user", "--map-root-user", "--cgroup", "--ipc", "--net", "--mount", "--pid", "--fork", "--time", "--uts"];

describeRoot("Inspect", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", ...ALL_TYPES]);
  });
  afterAll(async () => {
    await target.kill();
    await lxnsd.stop();
  });

  it.each(NAMESPACE_KINDS.map((kind) => [kind.name, kind.type] as const))("of a pid equals stat /proc/PID/ns/%s", async (name, type) => {
    const { info } = await lxnsd.client.inspect({ ref: { type, source: { case: "pid", value: target.pid } } });
    expect(info?.type).toBe(type);
    expect(info?.nsId).toBe(nsInode(target.pid, name));
    expect(info?.device).toBe(nsDevice(target.pid, name));
    expect(info?.nsId).not.toBe(nsInode("self", name));
    // Every namespace of the target was created inside its new user namespace.
    if (type !== NamespaceType.USER) expect(info?.ownerUserNsId).toBe(nsInode(target.pid, "user"));
  });

  it.each(NAMESPACE_KINDS.map((kind) => [kind.name, kind.type] as const))("OWNER of the %s namespace is the target's user namespace", async (name, type) => {
    const { info } = await lxnsd.client.inspect({ ref: { type, source: { case: "pid", value: target.pid }, relation: Relation.OWNER } });
    expect(info?.type).toBe(NamespaceType.USER);
    // A user namespace's owner is its parent: the daemon's user namespace.
    expect(info?.nsId).toBe(type === NamespaceType.USER ? nsInode("self", "user") : nsInode(target.pid, "user"));
    expect(name).toBeTruthy();
  });

  it("fills owner_uid and parent_ns_id of a user namespace made by an unprivileged uid", async () => {
    const unprivileged = await startTarget(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "unshare", "--user"]);
    try {
      const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.USER, source: { case: "pid", value: unprivileged.pid } } });
      expect(info?.nsId).toBe(nsInode(unprivileged.pid, "user"));
      expect(info?.ownerUid).toBe(65534);
      expect(info?.parentNsId).toBe(nsInode("self", "user"));
      expect(info?.ownerUserNsId).toBe(nsInode("self", "user"));
      const own = await lxnsd.client.inspect({ ref: { type: NamespaceType.USER, source: { case: "self", value: true } } });
      expect(own.info?.ownerUid).toBe(0);
    } finally {
      await unprivileged.kill();
    }
  });

  it("PARENT of a nested pid namespace is the outer one, and the outer's parent is the daemon's", async () => {
    const nested = await startTarget(["unshare", "--pid", "--fork", "unshare", "--pid", "--fork"]);
    try {
      const outerPid = Number(require("node:fs").readFileSync(`/proc/${nested.launcher.pid}/task/${nested.launcher.pid}/children`, "utf8").trim());
      const inner = await lxnsd.client.inspect({ ref: { type: NamespaceType.PID, source: { case: "pid", value: nested.pid }, relation: Relation.PARENT } });
      expect(inner.info?.nsId).toBe(nsInode(outerPid, "pid"));
      expect(inner.info?.nsId).not.toBe(nsInode("self", "pid"));
      const direct = await lxnsd.client.inspect({ ref: { type: NamespaceType.PID, source: { case: "pid", value: nested.pid } } });
      expect(direct.info?.parentNsId).toBe(nsInode(outerPid, "pid"));
      const outer = await lxnsd.client.inspect({ ref: { type: NamespaceType.PID, source: { case: "pid", value: outerPid }, relation: Relation.PARENT } });
      expect(outer.info?.nsId).toBe(nsInode("self", "pid"));
    } finally {
      await nested.kill();
    }
  });

  it("PARENT of a user namespace is the daemon's user namespace", async () => {
    const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.USER, source: { case: "pid", value: target.pid }, relation: Relation.PARENT } });
    expect(info?.nsId).toBe(nsInode("self", "user"));
  });

  it("self is the daemon's own namespace, with no parent in view at the root", async () => {
    const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.PID, source: { case: "self", value: true } } });
    expect(info?.nsId).toBe(nsInode("self", "pid"));
    expect(info?.parentNsId).toBeUndefined();
    await expect(
      lxnsd.client.inspect({ ref: { type: NamespaceType.USER, source: { case: "self", value: true }, relation: Relation.PARENT } }),
    ).rejects.toMatchObject({ code: status.NOT_FOUND, errno: "EPERM" });
  });

  it("a path under /proc is inspected like its pid, with or without a type", async () => {
    const file = `/proc/${target.pid}/ns/net`;
    const typed = await lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "path", value: file } } });
    const untyped = await lxnsd.client.inspect({ ref: { source: { case: "path", value: file } } });
    expect(typed.info?.nsId).toBe(nsInode(target.pid, "net"));
    expect(untyped.info?.type).toBe(NamespaceType.NET);
    expect(untyped.info?.nsId).toBe(nsInode(target.pid, "net"));
  });

  it("OWNER of a handle's namespace follows the handle", async () => {
    const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } } });
    try {
      const { info } = await lxnsd.client.inspect({ ref: { source: { case: "handle", value: handle!.id }, relation: Relation.OWNER } });
      expect(info?.nsId).toBe(nsInode(target.pid, "user"));
    } finally {
      await lxnsd.client.close({ handle: handle!.id });
    }
  });
});
