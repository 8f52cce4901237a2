import { NamespaceType, createClient, status } from "../../client";
import type { LxnsdClient } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { processesWith, runMarker } from "./support/markers";
import { Tally, outcomeOf, runPool } from "./support/outcomes";

const CALLS = 1200;
/**
 * Connections the calls are spread over. Nearly every call ends in a RST_STREAM from the client, and the
 * daemon's HTTP/2 layer (nghttp2's rapid-reset guard: a burst of 1000, then 33 per second) closes a
 * connection that resets faster: one connection for all 1200 calls met it now and then (rapid-reset.test.ts).
 */
const CONNECTIONS = 3;
/** Handles made by a call whose answer the 1 ms deadline dropped cannot be closed by the caller: they expire with this lease. */
const LEASE = { seconds: 1n };

describeRoot("faults: 1 ms deadlines on every kind of call", () => {
  let lxnsd: DaemonUnderTest;
  let baseline: Holdings;
  const marker = runMarker();

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    await lxnsd.client.run({ argv: ["true"] });
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("each call is OK or DEADLINE_EXCEEDED, and everything is released (handles once their lease ends)", async () => {
    const clients: LxnsdClient[] = Array.from({ length: CONNECTIONS }, () => createClient(lxnsd.address, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } }));
    const ms1 = { timeoutMs: 1 };
    const self = (type: NamespaceType) => ({ type, source: { case: "self" as const, value: true } });
    const kindsOf = (client: LxnsdClient): Record<string, () => Promise<unknown>> => {
      const closeAll = async (handles: { id: string }[]) => {
        for (const handle of handles) await client.close({ handle: handle.id });
      };
      return {
        Inspect: () => client.inspect({ ref: self(NamespaceType.NET) }, ms1),
        GetCurrentNamespaces: () => client.getCurrentNamespaces({}, ms1),
        Open: () => client.open({ ref: self(NamespaceType.UTS), lease: LEASE }, ms1).then((r) => closeAll([r.handle!])),
        Unshare: () => client.unshare({ types: [NamespaceType.USER, NamespaceType.PID, NamespaceType.NET], options: { mapRoot: true }, lease: LEASE }, ms1).then((r) => closeAll(r.handles)),
        GetLimit: () => client.getLimit({ type: NamespaceType.NET }, ms1),
        Run: () => client.run({ argv: ["sh", "-c", "echo out; exit 0", marker] }, ms1),
        "Run sleeping": () => client.run({ argv: ["sleep", marker] }, ms1),
        Exec: () => client.exec({ argv: ["sleep", marker] }, ms1).wait(),
        ListNamespaces: async () => {
          for await (const _row of client.listNamespaces({}, ms1));
        },
        WatchNamespaces: async () => {
          for await (const _event of client.watchNamespaces({ interval: { nanos: 100_000_000 } }, ms1));
        },
      };
    };
    const perConnection = clients.map(kindsOf);
    const names = Object.keys(perConnection[0]);
    const tally = new Tally();
    await runPool(CALLS, 32, async (index) => {
      const name = names[index % names.length];
      const kinds = perConnection[Math.floor(index / names.length) % CONNECTIONS];
      const outcome = await outcomeOf(kinds[name]());
      tally.add(name, outcome.code, outcome.message);
    });
    console.log(`1 ms deadlines:\n${tally}`);
    for (const each of clients) each.disconnect();
    for (const name of names) {
      // A sleeping program or a watch never ends on its own: only the deadline ends them.
      const allowed = name === "Run sleeping" || name === "Exec" || name === "WatchNamespaces" ? [status.DEADLINE_EXCEEDED] : [status.OK, status.DEADLINE_EXCEEDED];
      expect({ name, unexpected: tally.explain(name, allowed) }).toEqual({ name, unexpected: [] });
    }
    // Leases of 1 s, swept every second; calls the client gave up on may still be starting and being killed a while.
    await lxnsd.expectBack(baseline, 30000);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
  });
});
