import { NamespaceType, Relation } from "../../client";
import * as native from "../../native/lib";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, countFds, waitFor } from "../helpers/proc";

describeRoot("no fd, child or zombie outlives a request", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    await lxnsd.client.getCurrentNamespaces();
  });
  afterAll(() => lxnsd.stop());

  it("after 400 mixed calls, good and bad, at concurrency 8", async () => {
    const fdsBefore = countFds();
    const self = (type: NamespaceType) => ({ type, source: { case: "self" as const, value: true } });
    const calls: (() => Promise<unknown>)[] = [
      () => lxnsd.client.inspect({ ref: { ...self(NamespaceType.PID), relation: Relation.OWNER } }),
      () => lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: 2 ** 22 + 7 } } }),
      async () => {
        const { handle } = await lxnsd.client.open({ ref: self(NamespaceType.NET) });
        await lxnsd.client.close({ handle: handle!.id });
      },
      async () => {
        const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.USER, NamespaceType.PID, NamespaceType.UTS], options: { mapRoot: true, hostname: "x" } });
        await lxnsd.client.getLimit({ type: NamespaceType.PID, userNamespace: { source: { case: "handle", value: handles[0].id } } });
        for (const handle of handles) await lxnsd.client.close({ handle: handle.id });
      },
      () => lxnsd.client.unshare({ types: [NamespaceType.UTS], options: { hostname: "h".repeat(65) } }),
      () => lxnsd.client.setLimit({ type: NamespaceType.NET, value: 1n, userNamespace: self(NamespaceType.UTS) }),
      () => lxnsd.client.unshare({ types: [NamespaceType.NET] }, { timeoutMs: 1 }).then((r) => Promise.all(r.handles.map((h) => lxnsd.client.close({ handle: h.id })))),
    ];
    let next = 0;
    const worker = async () => {
      while (next < 400) {
        const call = calls[next++ % calls.length];
        await call().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // An Unshare that finished on the daemon just as the caller's 1 ms deadline fired was answered but
    // its answer dropped by the client: those handles live until their lease ends, so close them here.
    for (const id of lxnsd.daemon.handles.ids()) await lxnsd.client.close({ handle: id });
    await waitFor(() => native.runningChildren() === 0, 3000, "every child and keeper to be reaped");
    await waitFor(() => countFds() === fdsBefore, 3000, `fds back to ${fdsBefore} (now ${countFds()})`);
    expect(childrenOf(process.pid)).toEqual([]);
    expect(lxnsd.daemon.handles.size).toBe(0);
  });
});
