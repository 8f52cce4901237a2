import { EventKind, NamespaceType, status } from "../../client";
import * as native from "../../native/lib";
import type { WatchNamespacesResponse } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";

const realScan = native.scanNamespaces;
const INTERVAL = { seconds: 0n, nanos: 200_000_000 };

/** A watch call whose events pile up in `events` until stopped. */
function watch(lxnsd: TestDaemon, types: NamespaceType[]) {
  const controller = new AbortController();
  const events: WatchNamespacesResponse[] = [];
  const done = (async () => {
    try {
      for await (const event of lxnsd.client.watchNamespaces({ types, interval: INTERVAL }, { signal: controller.signal })) events.push(event);
    } catch (err) {
      if ((err as { code?: number }).code !== status.CANCELLED) throw err;
    }
  })();
  return { events, stop: async () => (controller.abort(), await done) };
}

const has = (events: WatchNamespacesResponse[], kind: EventKind, ino: bigint) => events.some((e) => e.kind === kind && e.summary?.info?.nsId === ino);
const timers = () => process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;

describeRoot("WatchNamespaces", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(async () => {
    await lxnsd.stop();
  });

  it("starts with the current set, then reports a new net namespace ADDED and REMOVED to every watcher", async () => {
    const timersBefore = timers();
    const a = watch(lxnsd, [NamespaceType.NET]);
    const b = watch(lxnsd, [NamespaceType.NET, NamespaceType.UTS]);
    const own = nsInode("self", "net");
    await waitFor(() => has(a.events, EventKind.ADDED, own) && has(b.events, EventKind.ADDED, own), 2000, "the initial set");
    expect(a.events.every((e) => e.summary?.info?.type === NamespaceType.NET)).toBe(true);
    // Counted in /proc scans, not in wall-clock time: the new namespace is reported by the first or second
    // scan that ends after it exists (one may be under way), whatever the machine's load.
    let scansDone = 0;
    const scan = jest.spyOn(native, "scanNamespaces").mockImplementation(() => realScan().finally(() => scansDone++));
    const target = await startTarget(["unshare", "--net", "--uts"]).catch((err) => {
      scan.mockRestore();
      throw err;
    });
    const ino = nsInode(target.pid, "net");
    const scansBefore = scansDone;
    try {
      await waitFor(() => has(a.events, EventKind.ADDED, ino) && has(b.events, EventKind.ADDED, ino), 5000, "ADDED");
    } catch (err) {
      await target.kill();
      throw err;
    } finally {
      scan.mockRestore();
    }
    const scansUntilAdded = scansDone - scansBefore;
    expect(scansUntilAdded).toBeGreaterThanOrEqual(1);
    expect(scansUntilAdded).toBeLessThanOrEqual(2);
    expect(has(b.events, EventKind.ADDED, nsInode(target.pid, "uts"))).toBe(true);
    await target.kill();
    await waitFor(() => has(a.events, EventKind.REMOVED, ino) && has(b.events, EventKind.REMOVED, ino), 2000, "REMOVED");
    const removed = a.events.find((e) => e.kind === EventKind.REMOVED && e.summary?.info?.nsId === ino)!;
    expect(removed.summary?.command).toMatch(/sleep 1000/);
    // After the initial sets, both watchers saw the same net events.
    const netAfterStart = (events: WatchNamespacesResponse[]) =>
      events.filter((e) => e.summary?.info?.type === NamespaceType.NET && e.summary.info.nsId === ino).map((e) => e.kind);
    expect(netAfterStart(a.events)).toEqual([EventKind.ADDED, EventKind.REMOVED]);
    expect(netAfterStart(b.events)).toEqual([EventKind.ADDED, EventKind.REMOVED]);
    await a.stop();
    await b.stop();
    await waitFor(() => timers() <= timersBefore, 2000, "no timer left");
  });

  it("refuses an interval out of bounds and unknown types", async () => {
    for (const request of [{ interval: { seconds: 0n, nanos: 1_000_000 } }, { interval: { seconds: 7200n, nanos: 0 } }, { types: [NamespaceType.UNSPECIFIED] }]) {
      await expect(
        (async () => {
          for await (const event of lxnsd.client.watchNamespaces(request)) expect(event).toBeUndefined();
        })(),
      ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    }
  });
});
