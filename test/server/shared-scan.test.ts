import { SharedScan } from "../../server/namespaces/shared-scan";
import { sharedScan } from "../../server/namespaces/list";
import { createClient } from "../../client";
import { startDaemon } from "../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";
import { NamespaceType } from "../../client";

/** A scan the test finishes by hand, counting how often it was started. */
function manualScan() {
  const pending: ((value: number) => void)[] = [];
  const scan = new SharedScan<number>(() => new Promise<number>((resolve) => pending.push(resolve)));
  return { scan, finish: (value: number) => pending.shift()!(value), get waiting() { return pending.length; } };
}

describe("SharedScan", () => {
  it("callers who ask during a scan share the next one, which starts when the running one ends", async () => {
    const { scan, finish } = manualScan();
    const first = scan.get();
    const joiners = Array.from({ length: 99 }, () => scan.get());
    expect(scan.started).toBe(1);
    finish(1);
    expect(await first).toBe(1);
    await Promise.resolve();
    expect(scan.started).toBe(2);
    finish(2);
    expect(await Promise.all(joiners)).toEqual(Array(99).fill(2));
    const later = scan.get();
    expect(scan.started).toBe(3);
    finish(3);
    expect(await later).toBe(3);
  });

  it("a failed scan fails its callers only; the next one runs", async () => {
    let calls = 0;
    const scan = new SharedScan<number>(async () => {
      calls += 1;
      if (calls === 1) throw new Error("boom");
      return calls;
    });
    const failed = scan.get();
    const next = scan.get();
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe(2);
  });
});

describeRoot("ListNamespaces under load", () => {
  it("100 concurrent calls are served by at most 2 scans, and another identity's call completes with them", async () => {
    const tokens = { flood: newToken(), other: newToken() };
    const identity = (name: string, token: string) => ({ name, scopes: ["read"], tokens: [tokenHash(token)] });
    const daemon = await startDaemon({ policyFile: writePolicy({ identities: [identity("flood", tokens.flood), identity("other", tokens.other)] }) });
    const flood = createClient(daemon.address, { token: tokens.flood });
    const other = createClient(daemon.address, { token: tokens.other });
    const list = async (client: typeof flood) => {
      const rows = [];
      for await (const row of client.listNamespaces({ types: [NamespaceType.NET] })) rows.push(row);
      return rows;
    };
    try {
      await list(other); // connections up before the burst
      await list(flood);
      const before = sharedScan.started;
      const calls = Array.from({ length: 100 }, () => list(flood));
      const mine = list(other);
      const answers = await Promise.all([...calls, mine]);
      expect(sharedScan.started - before).toBeLessThanOrEqual(2);
      const own = `${nsInode("self", "net")}`;
      for (const rows of answers) expect(rows.map((row) => `${row.summary!.info!.nsId}`)).toContain(own);
    } finally {
      flood.disconnect();
      other.disconnect();
      await daemon.stop();
    }
  });
});
