import { readFileSync } from "node:fs";
import { NamespaceType, status } from "../../client";
import type { LxnsdClient } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { nsInode, processState } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { Tally, runPool, statusOf } from "./support/outcomes";

const CALLS = 20_000;
const CONCURRENCY = 64;

type Check = (client: LxnsdClient, index: number) => Promise<void>;

function expectEqual<T>(what: string, actual: T, expected: T): void {
  if (actual !== expected) throw new Error(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

async function expectStatus(what: string, call: Promise<unknown>, expected: status): Promise<void> {
  expectEqual(`${what} status`, status[await statusOf(call)], status[expected]);
}

/** One kind of call with the answer it must give, checked against /proc. */
function checks(daemonPid: number, target: Target): Record<string, Check> {
  const self = (type: NamespaceType) => ({ type, source: { case: "self" as const, value: true } });
  const ofTarget = (type: NamespaceType) => ({ type, source: { case: "pid" as const, value: target.pid } });
  const daemonNet = nsInode(daemonPid, "net");
  const daemonUts = nsInode(daemonPid, "uts");
  const targetNet = nsInode(target.pid, "net");
  const targetUts = nsInode(target.pid, "uts");
  const current = ["user", "cgroup", "ipc", "net", "mnt", "pid", "time", "uts"].map((name) => nsInode(daemonPid, name));
  const noSuchPid = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;
  return {
    "Inspect self": async (client) => {
      expectEqual("net ns_id", (await client.inspect({ ref: self(NamespaceType.NET) })).info!.nsId, daemonNet);
    },
    "Inspect target": async (client) => {
      expectEqual("net ns_id", (await client.inspect({ ref: ofTarget(NamespaceType.NET) })).info!.nsId, targetNet);
    },
    GetCurrentNamespaces: async (client) => {
      const { namespaces } = await client.getCurrentNamespaces();
      expectEqual("ids", namespaces.map((info) => info.nsId).join(","), current.join(","));
    },
    "Open+Inspect+Close": async (client) => {
      const { handle } = await client.open({ ref: ofTarget(NamespaceType.UTS) });
      expectEqual("uts ns_id", handle!.info!.nsId, targetUts);
      const ref = { source: { case: "handle" as const, value: handle!.id } };
      expectEqual("by handle", (await client.inspect({ ref })).info!.nsId, targetUts);
      await client.close({ handle: handle!.id });
      await expectStatus("Inspect of a closed handle", client.inspect({ ref }), status.FAILED_PRECONDITION);
    },
    "Unshare+Close": async (client, index) => {
      const { handles } = await client.unshare({ types: [NamespaceType.UTS], options: { hostname: `load-${index}` } });
      expectEqual("handles", handles.length, 1);
      if (handles[0].info!.nsId === daemonUts) throw new Error("Unshare gave the daemon's own uts namespace");
      await client.close({ handle: handles[0].id });
    },
    "Unshare user+net": async (client) => {
      const { handles } = await client.unshare({ types: [NamespaceType.USER, NamespaceType.NET], options: { mapRoot: true } });
      expectEqual("types", handles.map((h) => h.info!.type).join(","), `${NamespaceType.USER},${NamespaceType.NET}`);
      for (const handle of handles) await client.close({ handle: handle.id });
    },
    Run: async (client, index) => {
      const result = await client.run({ argv: ["echo", `run-${index}`] });
      expectEqual("stdout", result.stdout.toString(), `run-${index}\n`);
      expectEqual("exit", result.exit.code, 0);
    },
    "Run joined": async (client) => {
      const result = await client.run({ argv: ["readlink", "/proc/self/ns/net"], join: [ofTarget(NamespaceType.NET)] });
      expectEqual("stdout", result.stdout.toString(), `net:[${targetNet}]\n`);
    },
    Exec: async (client, index) => {
      const session = client.exec({ argv: ["cat"] });
      await session.write(`exec-${index}`);
      session.closeStdin();
      let out = "";
      for await (const chunk of session.output) out += Buffer.from(chunk.data).toString();
      expectEqual("echoed", out, `exec-${index}`);
      expectEqual("exit", (await session.wait()).code, 0);
    },
    ListNamespaces: async (client) => {
      const rows = [];
      for await (const row of client.listNamespaces({ types: [NamespaceType.NET], pid: target.pid })) rows.push(row.summary!.info!.nsId);
      expectEqual("rows", rows.join(","), String(targetNet));
    },
    "unknown handle": (client) => expectStatus("Inspect", client.inspect({ ref: { source: { case: "handle", value: "h-no-such-handle" } } }), status.NOT_FOUND),
    "Close unknown": (client) => expectStatus("Close", client.close({ handle: "h-no-such-handle" }), status.NOT_FOUND),
    "no such pid": (client) => expectStatus("Inspect", client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: noSuchPid } } }), status.NOT_FOUND),
    "Run joining no such pid": (client) => expectStatus("Run", client.run({ argv: ["true"], join: [{ type: NamespaceType.NET, source: { case: "pid", value: noSuchPid } }] }), status.NOT_FOUND),
    "no such program": (client) => expectStatus("Run", client.run({ argv: ["/nonexistent/program"] }), status.NOT_FOUND),
    "bad type": (client) => expectStatus("Inspect", client.inspect({ ref: { type: 99 as NamespaceType, source: { case: "self", value: true } } }), status.INVALID_ARGUMENT),
  };
}

describeRoot("load: 20,000 mixed calls at concurrency 64", () => {
  let lxnsd: DaemonUnderTest;
  let target: Target;
  let baseline: Holdings;

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    target = await startTarget(["unshare", "--net", "--uts"]);
    // One of each kind first, so that what the daemon opens once (io_uring, pool threads' fds) is in the baseline.
    for (const check of Object.values(checks(lxnsd.pid, target))) await check(lxnsd.client, 0);
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    await target?.kill();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("every answer is the expected one, and fds, children and handles are back afterwards with no zombie", async () => {
    const kinds = Object.entries(checks(lxnsd.pid, target));
    const tally = new Tally();
    const wrong: string[] = [];
    const started = Date.now();
    await runPool(CALLS, CONCURRENCY, async (index) => {
      const [kind, check] = kinds[index % kinds.length];
      try {
        await check(lxnsd.client, index);
        tally.add(kind, status.OK);
      } catch (err) {
        tally.add(kind, (err as { code?: status }).code ?? status.UNKNOWN);
        if (wrong.length < 20) wrong.push(`${kind} #${index}: ${(err as Error).message}`);
      }
    });
    console.log(`load: ${CALLS} calls at concurrency ${CONCURRENCY} in ${Date.now() - started} ms\n${tally}`);
    expect(wrong).toEqual([]);
    expect(tally.total()).toBe(CALLS);
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
    expect(processState(lxnsd.pid)).not.toBe("Z");
  });
});
