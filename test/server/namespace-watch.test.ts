import type { NsScanRow } from "../../native/lib";
import { waitFor } from "../helpers/proc";
import { NamespaceWatch } from "../../server/namespaces/watch";
import type { WatchEvent } from "../../server/namespaces/watch";

function row(ino: number): NsScanRow {
  return { type: "net", ino: BigInt(ino), dev: 4n, nprocs: 1, pid: ino, uid: 0, command: "sleep", ownerIno: 0n };
}

const brief = (events: WatchEvent[] | null) => events?.map((event) => `${event.kind}:${event.row.ino}`) ?? null;

describe("NamespaceWatch", () => {
  it("primes each watcher with the current set, then fans out key differences; stops with the last watcher", async () => {
    let current = [row(1), row(2)];
    let scans = 0;
    const watch = new NamespaceWatch(async () => {
      scans++;
      return current;
    });
    const signal = new AbortController().signal;
    const a = watch.subscribe(10);
    expect(brief(await a.next(signal))).toEqual(["added:1", "added:2"]);
    const b = watch.subscribe(1000);
    expect(brief(await b.next(signal))).toEqual(["added:1", "added:2"]);
    current = [row(2), row(3)];
    expect(brief(await a.next(signal))).toEqual(["added:3", "removed:1"]);
    expect(brief(await b.next(signal))).toEqual(["added:3", "removed:1"]);
    // Rows whose contents change but whose keys stay are not events.
    current = [{ ...row(2), nprocs: 7 }, row(3)];
    const before = scans;
    await waitFor(() => scans > before, 2000, "another scan");
    a.close();
    b.close();
    b.close();
    expect(watch.watcherCount).toBe(0);
    await waitFor(() => !watch.running, 2000, "the poller to stop");
  });

  it("rejects a waiting next() when its signal aborts", async () => {
    const watch = new NamespaceWatch(async () => [row(1)]);
    const controller = new AbortController();
    const sub = watch.subscribe(1000);
    await sub.next(controller.signal);
    const pending = sub.next(controller.signal);
    controller.abort(new Error("cancelled"));
    await expect(pending).rejects.toThrow("cancelled");
    sub.close();
    await waitFor(() => !watch.running, 2000, "the poller to stop");
  });

  it("end() gives every watcher null (after what was queued), waiting or not, and stops scanning", async () => {
    const watch = new NamespaceWatch(async () => [row(1)]);
    const signal = new AbortController().signal;
    const waiting = watch.subscribe(1000);
    expect(brief(await waiting.next(signal))).toEqual(["added:1"]);
    const pending = waiting.next(signal);
    const queued = watch.subscribe(1000);
    await new Promise((resolve) => setTimeout(resolve, 20)); // its first scan is queued, not yet taken
    watch.end();
    expect(await pending).toBeNull();
    expect(brief(await queued.next(signal))).toEqual(["added:1"]);
    expect(await queued.next(signal)).toBeNull();
    expect(await watch.subscribe(10).next(signal)).toBeNull();
    expect(watch.watcherCount).toBe(0);
    expect(watch.running).toBe(false);
  });

  it("hands a scan failure to every watcher", async () => {
    const watch = new NamespaceWatch(async () => {
      throw new Error("no /proc");
    });
    const sub = watch.subscribe(100);
    await expect(sub.next(new AbortController().signal)).rejects.toThrow("no /proc");
    sub.close();
    expect(watch.running).toBe(false);
  });
});
