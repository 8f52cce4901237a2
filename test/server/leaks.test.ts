import { NamespaceType, Relation, status } from "../../client";
import * as native from "../../native/lib";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { fdHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, waitFor } from "../helpers/proc";

/** Resolves to "OK" or the gRPC status code name of a call's failure. */
const outcome = (call: Promise<unknown>): Promise<string> =>
  call.then(
    () => "OK",
    (err: { code?: number }) => (err.code !== undefined ? status[err.code] : String(err)),
  );

describeRoot("no fd, child or zombie outlives a request", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    // A short default lease: a handle whose Unshare answer the client dropped (1 ms deadline) is released by the daemon itself.
    lxnsd = await startDaemon({ defaultLeaseMs: 1000 });
    await lxnsd.client.getCurrentNamespaces();
  });
  afterAll(() => lxnsd.stop());

  it("after 400 mixed calls, good and bad, at concurrency 8: each answered as expected, nothing left", async () => {
    const heldBefore = fdHoldings();
    const self = (type: NamespaceType) => ({ type, source: { case: "self" as const, value: true } });
    // Each call with the outcomes it may have.
    const calls: [string, () => Promise<unknown>, string[]][] = [
      ["inspect owner", () => lxnsd.client.inspect({ ref: { ...self(NamespaceType.PID), relation: Relation.OWNER } }), ["OK"]],
      ["inspect missing pid", () => lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: 2 ** 22 + 7 } } }), ["NOT_FOUND"]],
      [
        "open+close",
        async () => {
          const { handle } = await lxnsd.client.open({ ref: self(NamespaceType.NET) });
          await lxnsd.client.close({ handle: handle!.id });
        },
        ["OK"],
      ],
      [
        "unshare user+pid+uts, getLimit, close",
        async () => {
          const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.USER, NamespaceType.PID, NamespaceType.UTS], options: { mapRoot: true, hostname: "x" } });
          await lxnsd.client.getLimit({ type: NamespaceType.PID, userNamespace: { source: { case: "handle", value: handles[0].id } } });
          for (const handle of handles) await lxnsd.client.close({ handle: handle.id });
        },
        ["OK"],
      ],
      ["hostname too long", () => lxnsd.client.unshare({ types: [NamespaceType.UTS], options: { hostname: "h".repeat(65) } }), ["INVALID_ARGUMENT"]],
      ["setLimit in a uts namespace", () => lxnsd.client.setLimit({ type: NamespaceType.NET, value: 1n, userNamespace: self(NamespaceType.UTS) }), ["FAILED_PRECONDITION"]], // a namespace of the wrong type
      [
        "unshare with a 1 ms deadline",
        () => lxnsd.client.unshare({ types: [NamespaceType.NET] }, { timeoutMs: 1 }).then((r) => Promise.all(r.handles.map((h) => lxnsd.client.close({ handle: h.id })))),
        ["OK", "DEADLINE_EXCEEDED"],
      ],
    ];
    const unexpected: string[] = [];
    const seen = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < 400) {
        const [name, call, allowed] = calls[next++ % calls.length];
        const got = await outcome(call());
        seen.set(`${name}: ${got}`, (seen.get(`${name}: ${got}`) ?? 0) + 1);
        if (!allowed.includes(got)) unexpected.push(`${name}: ${got}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect([...new Set(unexpected)]).toEqual([]);
    // Only an Unshare whose answer the client dropped at its 1 ms deadline may leave handles: one each at most,
    // and the daemon releases them when their lease ends, with no Close from anyone.
    expect(lxnsd.daemon.handles.size).toBeLessThanOrEqual(seen.get("unshare with a 1 ms deadline: DEADLINE_EXCEEDED") ?? 0);
    await waitFor(() => lxnsd.daemon.handles.size === 0, 5000, `the dropped handles' leases to end (${lxnsd.daemon.handles.size} left)`);
    await waitFor(() => native.runningChildren() === 0, 3000, "every child and keeper to be reaped");
    await waitForNoNewHoldings(heldBefore, 3000, "namespace fds, pipes and pidfds of the calls");
    expect(childrenOf(process.pid)).toEqual([]);
  }, 30_000);
});
