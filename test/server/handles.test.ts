import { NamespaceType, status } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { heldPath } from "../helpers/held";
import { describeRoot } from "../helpers/privileged";
import { countFds, nsInode, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";

describeRoot("Open and Close", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon({ maxHandles: 4 });
    await lxnsd.client.getCurrentNamespaces();
  });
  afterAll(() => lxnsd.stop());

  it("a lease with a fraction of a millisecond is answered (it was INTERNAL: expires_at could not be encoded)", async () => {
    for (const nanos of [1_234_567, 483_647_123, 999_999_999]) {
      const lease = { seconds: 1n, nanos };
      const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } }, lease });
      expect(handle?.expiresAt?.nanos).toBeDefined();
      await lxnsd.client.close({ handle: handle!.id });
      const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.UTS], lease });
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it("a handle keeps a namespace usable after its process exits, until Close", async () => {
    const target = await startTarget(["unshare", "--net"]);
    const nsId = nsInode(target.pid, "net");
    const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.NET, source: { case: "pid", value: target.pid } } });
    expect(handle?.info?.nsId).toBe(nsId);
    expect(handle?.expiresAt).toBeDefined();
    await target.kill();
    const { info } = await lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "handle", value: handle!.id } } });
    expect(info?.nsId).toBe(nsId);
    expect(heldPath("net", nsId)).toBeDefined();
    await lxnsd.client.close({ handle: handle!.id });
    expect(heldPath("net", nsId)).toBeUndefined();
  });

  it("Close is idempotent; a closed handle is FAILED_PRECONDITION everywhere, an unknown one NOT_FOUND", async () => {
    const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } } });
    const id = handle!.id;
    await lxnsd.client.close({ handle: id });
    await lxnsd.client.close({ handle: id });
    await expect(lxnsd.client.inspect({ ref: { source: { case: "handle", value: id } } })).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, reason: "HANDLE_CLOSED" });
    await expect(lxnsd.client.open({ ref: { source: { case: "handle", value: id } } })).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    await expect(lxnsd.client.getLimit({ type: NamespaceType.NET, userNamespace: { source: { case: "handle", value: id } } })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    await expect(lxnsd.client.inspect({ ref: { source: { case: "handle", value: "h-never-issued" } } })).rejects.toMatchObject({ code: status.NOT_FOUND, reason: "HANDLE_UNKNOWN" });
    await expect(lxnsd.client.close({ handle: "h-never-issued" })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.close({ handle: "" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("a handle of the wrong type is FAILED_PRECONDITION", async () => {
    const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } } });
    try {
      await expect(lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "handle", value: handle!.id } } })).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
      });
    } finally {
      await lxnsd.client.close({ handle: handle!.id });
    }
  });

  it("the cap on open handles gives RESOURCE_EXHAUSTED and frees up after Close", async () => {
    const fdsBefore = countFds();
    const ref = { type: NamespaceType.IPC, source: { case: "self" as const, value: true } };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await lxnsd.client.open({ ref })).handle!.id);
    await expect(lxnsd.client.open({ ref })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    await expect(lxnsd.client.unshare({ types: [NamespaceType.UTS] })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(countFds()).toBe(fdsBefore + 4);
    await lxnsd.client.close({ handle: ids.pop()! });
    ids.push((await lxnsd.client.open({ ref })).handle!.id);
    for (const id of ids) await lxnsd.client.close({ handle: id });
    expect(countFds()).toBe(fdsBefore);
  });
});

describeRoot("Handle leases", () => {
  it("an expired lease releases the namespace and leaves the handle FAILED_PRECONDITION", async () => {
    const lxnsd = await startDaemon();
    try {
      await lxnsd.client.getCurrentNamespaces();
      const fdsBefore = countFds();
      const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } }, lease: { seconds: 1n } });
      expect(countFds()).toBe(fdsBefore + 1);
      await waitFor(() => countFds() === fdsBefore, 4000, "the lease to expire");
      await expect(lxnsd.client.inspect({ ref: { source: { case: "handle", value: handle!.id } } })).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        reason: "HANDLE_EXPIRED",
      });
      await lxnsd.client.close({ handle: handle!.id });
    } finally {
      await lxnsd.stop();
    }
  });
});
