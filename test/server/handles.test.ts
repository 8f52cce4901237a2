import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../client";
import type { LxnsdClient } from "../../client";
import type { DaemonProcess } from "../helpers/daemon-process";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { heldPath } from "../helpers/held";
import { describeRoot } from "../helpers/privileged";
import { spawnDaemon } from "../helpers/daemon-process";
import { fdHoldings, newHoldingKinds, newHoldings } from "../helpers/fd-holdings";
import { nsInode, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";

/** A google.protobuf.Timestamp in ms since the epoch. */
const msOf = (t: { seconds: bigint; nanos: number }) => Number(t.seconds) * 1000 + t.nanos / 1e6;

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
      const before = Date.now();
      const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } }, lease });
      const leaseMs = 1000 + nanos / 1e6;
      expect(msOf(handle!.expiresAt!)).toBeGreaterThanOrEqual(before + Math.floor(leaseMs));
      expect(msOf(handle!.expiresAt!)).toBeLessThanOrEqual(Date.now() + Math.ceil(leaseMs));
      await lxnsd.client.close({ handle: handle!.id });
      const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.UTS], lease });
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it("a handle keeps a namespace usable after its process exits, until Close", async () => {
    const target = await startTarget(["unshare", "--net"]);
    const nsId = nsInode(target.pid, "net");
    const before = Date.now();
    const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.NET, source: { case: "pid", value: target.pid } } });
    const after = Date.now();
    expect(handle?.info?.nsId).toBe(nsId);
    // The default lease (600 s) from the moment of the call.
    expect(msOf(handle!.expiresAt!)).toBeGreaterThanOrEqual(before + 600_000);
    expect(msOf(handle!.expiresAt!)).toBeLessThanOrEqual(after + 600_000);
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
    const heldBefore = fdHoldings();
    const ipc = `ipc:[${nsInode("self", "ipc")}]`;
    const ref = { type: NamespaceType.IPC, source: { case: "self" as const, value: true } };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await lxnsd.client.open({ ref })).handle!.id);
    await expect(lxnsd.client.open({ ref })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    await expect(lxnsd.client.unshare({ types: [NamespaceType.UTS] })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(newHoldingKinds(heldBefore)).toEqual(["ipc", "ipc", "ipc", "ipc"]);
    expect(newHoldings(heldBefore).every((entry) => entry.endsWith(ipc))).toBe(true);
    await lxnsd.client.close({ handle: ids.pop()! });
    ids.push((await lxnsd.client.open({ ref })).handle!.id);
    for (const id of ids) await lxnsd.client.close({ handle: id });
    expect(newHoldings(heldBefore)).toEqual([]);
  });
});

describeRoot("Handle leases", () => {
  it("an expired lease releases the namespace and leaves the handle FAILED_PRECONDITION", async () => {
    const lxnsd = await startDaemon();
    try {
      await lxnsd.client.getCurrentNamespaces();
      const heldBefore = fdHoldings();
      const { handle } = await lxnsd.client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } }, lease: { seconds: 1n } });
      expect(newHoldingKinds(heldBefore)).toEqual(["uts"]);
      await waitFor(() => newHoldings(heldBefore).length === 0, 4000, "the lease to expire");
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

describeRoot("--handle-lease and --max-handle-lease (a daemon process)", () => {
  let dir: string;
  let lxnsd: DaemonProcess;
  let client: LxnsdClient;
  const uts = { type: NamespaceType.UTS, source: { case: "self" as const, value: true } };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-lease-"));
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    lxnsd = spawnDaemon(["--listen", socket, "--state-dir", path.join(dir, "state"), "--netns-dir", "", "--handle-lease", "2", "--max-handle-lease", "5"]);
    await lxnsd.ready;
    client = createClient(socket);
  });
  afterAll(async () => {
    client?.disconnect();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a lease up to --max-handle-lease is granted exactly; one longer is INVALID_ARGUMENT and opens nothing", async () => {
    const before = Date.now();
    const { handle } = await client.open({ ref: uts, lease: { seconds: 5n } });
    expect(msOf(handle!.expiresAt!)).toBeGreaterThanOrEqual(before + 5000);
    expect(msOf(handle!.expiresAt!)).toBeLessThanOrEqual(Date.now() + 5000);
    await client.close({ handle: handle!.id });
    const err = await client.open({ ref: uts, lease: { seconds: 5n, nanos: 1_000_000 } }).catch((e) => e);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringContaining("lease must be between 1s and 5s") });
    await expect(client.unshare({ types: [NamespaceType.UTS], lease: { seconds: 6n } })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("without a lease, --handle-lease; every use renews it; an unused handle expires with a warning in the log", async () => {
    const before = Date.now();
    const { handle } = await client.open({ ref: uts });
    const id = handle!.id;
    expect(msOf(handle!.expiresAt!)).toBeGreaterThanOrEqual(before + 2000);
    expect(msOf(handle!.expiresAt!)).toBeLessThanOrEqual(Date.now() + 2000);
    // Used every 0.5 s for 4 s, twice its lease: still alive.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await client.inspect({ ref: { source: { case: "handle", value: id } } })).info?.nsId).toBe(nsInode("self", "uts"));
    }
    // Then left alone: released within its 2 s lease (plus the sweep), with one warning naming it.
    const expired = (line: string) => line.includes(id) && line.includes("handle lease expired");
    await waitFor(() => lxnsd.stderr().split("\n").some(expired), 5000, "the expiry warning");
    const warning = JSON.parse(lxnsd.stderr().split("\n").find(expired)!);
    expect(warning).toMatchObject({ level: 40, handle: id, nsId: nsInode("self", "uts").toString() });
    await expect(client.inspect({ ref: { source: { case: "handle", value: id } } })).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, reason: "HANDLE_EXPIRED" });
  }, 20_000);
});
