import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { NamespaceType, status } from "../../client";
import type { LxnsdClient } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, processState, readOrNull, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { processesWith, runMarker } from "./support/markers";
import { Tally, runPool, statusOf } from "./support/outcomes";

/** SIGKILLs `pid`; false when it was gone already. */
function killQuietly(pid: number): boolean {
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false; // gone already
  }
}

describeRoot("faults: processes killed or exiting mid-call", () => {
  let lxnsd: DaemonUnderTest;
  let client: LxnsdClient;
  let baseline: Holdings;
  const marker = runMarker();

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    client = lxnsd.client;
    await client.run({ argv: ["true"] });
    const { handles } = await client.unshare({ types: [NamespaceType.USER, NamespaceType.PID], options: { mapRoot: true } });
    for (const handle of handles) await client.close({ handle: handle.id });
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });
  afterEach(async () => {
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
  });

  it("a program SIGKILLed mid-call (Exec by its started pid, Run found among the daemon's children) is an exit by signal 9", async () => {
    const tally = new Tally();
    await runPool(200, 16, async (index) => {
      if (index % 2 === 0) {
        const session = client.exec({ argv: ["sleep", marker] });
        const code = await statusOf(
          (async () => {
            killQuietly(await session.started);
            const exit = await session.wait();
            if (exit.signal !== 9) throw new Error(`Exec exit ${JSON.stringify(exit)}, expected signal 9`);
          })(),
        );
        tally.add("Exec", code);
      } else {
        const tag = `${marker}${index}`;
        const run = client.run({ argv: ["sh", "-c", `sleep ${marker}`, tag] });
        const killer = (async () => {
          let pid = 0;
          await waitFor(() => (pid = childrenOf(lxnsd.pid).find((child) => readOrNull(`/proc/${child.pid}/cmdline`)?.includes(tag))?.pid ?? 0) !== 0, 10000, `Run's program ${tag}`);
          killQuietly(pid);
        })();
        const code = await statusOf(
          run.then((result) => {
            if (result.exit.signal !== 9) throw new Error(`Run exit ${JSON.stringify(result.exit)}, expected signal 9`);
          }),
        );
        await killer;
        tally.add("Run", code);
      }
    });
    console.log(`programs killed:\n${tally}`);
    expect(tally.unexpected("Exec", [status.OK])).toEqual([]);
    expect(tally.unexpected("Run", [status.OK])).toEqual([]);
  });

  it("per-request children and keepers SIGKILLed mid-operation: each call ends with a defined status", async () => {
    const tally = new Tally();
    let stop = false;
    let killed = 0;
    // Kills whatever the daemon has as children right now: Unshare's children (waiting for their id maps),
    // GetLimit's joining children, keepers of pid namespaces, programs.
    const killer = (async () => {
      while (!stop) {
        for (const child of childrenOf(lxnsd.pid)) {
          if (killQuietly(child.pid)) killed++;
        }
        await sleep(randomInt(0, 3));
      }
    })();
    const kinds: Record<string, () => Promise<unknown>> = {
      "Unshare user+net": async () => {
        const { handles } = await client.unshare({ types: [NamespaceType.USER, NamespaceType.NET], options: { mapRoot: true } });
        try {
          await client.getLimit({ type: NamespaceType.NET, userNamespace: { source: { case: "handle", value: handles[0].id } } });
        } finally {
          for (const handle of handles) await client.close({ handle: handle.id });
        }
      },
      "Unshare pid": async () => {
        const { handles } = await client.unshare({ types: [NamespaceType.PID] });
        try {
          await client.run({ argv: ["true"], join: [{ source: { case: "handle", value: handles[0].id } }] });
        } finally {
          await client.close({ handle: handles[0].id });
        }
      },
      "Run in new namespaces": () => client.run({ argv: ["sh", "-c", "exit 3", marker], unshare: [NamespaceType.USER, NamespaceType.PID, NamespaceType.MNT], unshareOptions: { mapRoot: true } }),
    };
    const names = Object.keys(kinds);
    await runPool(450, 8, async (index) => {
      const name = names[index % names.length];
      tally.add(name, await statusOf(kinds[name]()));
    });
    stop = true;
    await killer;
    console.log(`per-request children killed (${killed} kills):\n${tally}`);
    expect(killed).toBeGreaterThan(0);
    // The fault landed: some call had its per-request child killed under it (ABORTED), not only programs or
    // children that had finished their work.
    expect(tally.count(status.ABORTED)).toBeGreaterThan(0);
    // ABORTED: a per-request child died under the daemon; FAILED_PRECONDITION: the pid namespace's keeper (its init) was killed.
    const allowed: Record<string, status[]> = {
      "Unshare user+net": [status.OK, status.ABORTED],
      "Unshare pid": [status.OK, status.ABORTED, status.FAILED_PRECONDITION],
      "Run in new namespaces": [status.OK, status.ABORTED],
    };
    for (const name of names) expect({ name, unexpected: tally.unexpected(name, allowed[name]) }).toEqual({ name, unexpected: [] });
  });

  it("target processes exiting mid-call: OK or NOT_FOUND", async () => {
    const tally = new Tally();
    await runPool(60, 4, async () => {
      const target = await startTarget(["unshare", "--net", "--uts"]);
      const ref = (type: NamespaceType) => ({ type, source: { case: "pid" as const, value: target.pid } });
      const calls: Record<string, () => Promise<unknown>> = {
        Inspect: () => client.inspect({ ref: ref(NamespaceType.NET) }),
        Open: async () => {
          const { handle } = await client.open({ ref: ref(NamespaceType.UTS) });
          await client.close({ handle: handle!.id });
        },
        Run: () => client.run({ argv: ["true"], join: [ref(NamespaceType.NET), ref(NamespaceType.UTS)] }),
        Exec: () => client.exec({ argv: ["true"], join: [ref(NamespaceType.NET)] }).wait(),
        ListNamespaces: async () => {
          for await (const _row of client.listNamespaces({ pid: target.pid }));
        },
      };
      // The target exits 0-15 ms after every kind of call has had one answer from it alive, while the next ones run.
      const firstAnswers: Promise<void>[] = [];
      const kinds = Object.entries(calls).map(([name, call]) => {
        let answered!: () => void;
        firstAnswers.push(new Promise<void>((resolve) => (answered = resolve)));
        return (async () => {
          for (let i = 0; i < 4; i++) {
            tally.add(name, await statusOf(call()));
            if (i === 0) answered();
          }
        })();
      });
      const killer = Promise.all(firstAnswers).then(async () => {
        await sleep(randomInt(0, 15));
        await target.kill();
      });
      await Promise.all(kinds);
      await killer;
    });
    console.log(`targets exiting:\n${tally}`);
    for (const name of ["Inspect", "Open", "Run", "Exec", "ListNamespaces"]) {
      expect({ name, unexpected: tally.unexpected(name, [status.OK, status.NOT_FOUND]) }).toEqual({ name, unexpected: [] });
      // The fault landed for every kind of call: some met a target already gone, some a live one.
      expect({ name, notFound: tally.count(status.NOT_FOUND, name) > 0, ok: tally.count(status.OK, name) > 0 }).toEqual({ name, notFound: true, ok: true });
    }
  });
});
