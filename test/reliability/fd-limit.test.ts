import { NamespaceType, status } from "../../client";
import type { LxnsdClient } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { Tally, runPool, statusOf } from "./support/outcomes";

describeRoot("faults: the daemon under RLIMIT_NOFILE 64", () => {
  let lxnsd: DaemonUnderTest;
  let baseline: Holdings;

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest({ wrapper: ["prlimit", "--nofile=64"] });
    await lxnsd.client.run({ argv: ["true"] });
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("answers RESOURCE_EXHAUSTED while out of fds, never crashes, and serves every kind again once handles are closed", async () => {
    const client: LxnsdClient = lxnsd.client;
    const self = (type: NamespaceType) => ({ type, source: { case: "self" as const, value: true } });
    const held: string[] = [];
    const kinds: Record<string, () => Promise<unknown>> = {
      "Open (held)": async () => held.push((await client.open({ ref: self(NamespaceType.UTS) })).handle!.id),
      "Unshare (held)": async () => held.push(...(await client.unshare({ types: [NamespaceType.USER, NamespaceType.NET], options: { mapRoot: true } })).handles.map((h) => h.id)),
      Inspect: () => client.inspect({ ref: self(NamespaceType.NET) }),
      GetCurrentNamespaces: () => client.getCurrentNamespaces(),
      Run: () => client.run({ argv: ["echo", "hi"] }),
      Exec: async () => {
        const session = client.exec({ argv: ["cat"] });
        await session.write("x");
        session.closeStdin();
        return session.wait();
      },
      ListNamespaces: async () => {
        for await (const _row of client.listNamespaces({ types: [NamespaceType.NET] }));
      },
    };
    const names = Object.keys(kinds);
    const tally = new Tally();
    await runPool(700, 16, async (index) => {
      const name = names[index % names.length];
      tally.add(name, await statusOf(kinds[name]()));
    });
    console.log(`RLIMIT_NOFILE 64, ${held.length} handles held:\n${tally}`);
    for (const name of names) expect({ name, unexpected: tally.unexpected(name, [status.OK, status.RESOURCE_EXHAUSTED]) }).toEqual({ name, unexpected: [] });
    expect(tally.unexpected("Open (held)", [status.OK])).toEqual([status.RESOURCE_EXHAUSTED]);
    expect(lxnsd.proc.proc.exitCode).toBeNull();

    for (const id of held.splice(0)) await client.close({ handle: id });
    for (const name of names) expect({ name, code: status[await statusOf(kinds[name]())] }).toEqual({ name, code: "OK" });
    for (const id of held.splice(0)) await client.close({ handle: id });
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
  });
});
