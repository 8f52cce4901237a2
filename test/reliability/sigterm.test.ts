import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { NamespaceType, status } from "../../client";
import { cgroup2Mount } from "../helpers/cgroup";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, readOrNull, waitFor } from "../helpers/proc";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import { processesWith, runMarker } from "./support/markers";
import { Tally, statusOf } from "./support/outcomes";

describeRoot("faults: SIGTERM under load", () => {
  it("exits 0, leaves no program, keeper or child, and every call ends with a defined status", async () => {
    const lxnsd = await startDaemonUnderTest();
    const client = lxnsd.client;
    const marker = runMarker();
    const tally = new Tally();
    // Long programs and held pid namespaces (keepers) that only the shutdown ends.
    const sessions = Array.from({ length: 20 }, () => client.exec({ argv: ["sleep", marker] }));
    await Promise.all(sessions.map((session) => session.started));
    await client.unshare({ types: [NamespaceType.PID] });
    await client.unshare({ types: [NamespaceType.USER, NamespaceType.PID], options: { mapRoot: true } });
    const exits = sessions.map((session) => statusOf(session.wait()).then((code) => tally.add("Exec (running)", code)));
    let stopping = false;
    const load = Array.from({ length: 16 }, async (_, worker) => {
      for (;;) {
        const kind = ["Run", "Unshare", "Inspect"][worker % 3];
        const call =
          kind === "Run"
            ? client.run({ argv: ["sh", "-c", "echo hi", marker] })
            : kind === "Unshare"
              ? client.unshare({ types: [NamespaceType.UTS] })
              : client.inspect({ ref: { type: NamespaceType.NET, source: { case: "self", value: true } } });
        const code = await statusOf(call);
        tally.add(kind, code);
        if (code === status.UNAVAILABLE || (stopping && code !== status.OK)) break;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const children = childrenOf(lxnsd.pid).map((child) => child.pid);
    // Its programs' cgroups, running and idle (kept for reuse) alike.
    const programs = path.join(cgroup2Mount(), readFileSync(`/proc/${lxnsd.pid}/cgroup`, "utf8").match(/^0::(.*)$/m)![1], "lxnsd-programs");
    const cgroupsLeft = () => readdirSync(programs).filter((name) => name.startsWith(`program-${lxnsd.pid}-`));
    expect(cgroupsLeft().length).toBeGreaterThanOrEqual(20);
    expect(children.length).toBeGreaterThanOrEqual(22);
    const code = await lxnsd.proc.stop();
    stopping = true;
    await Promise.all([...load, ...exits]);
    console.log(`SIGTERM under load:\n${tally}`);
    expect(code).toBe(0);
    // A running Exec is cut by the shutdown (its program killed after the grace period); calls after it find no daemon.
    expect(tally.unexpected("Exec (running)", [status.OK, status.CANCELLED, status.UNAVAILABLE])).toEqual([]);
    for (const kind of ["Run", "Unshare", "Inspect"]) expect({ kind, unexpected: tally.unexpected(kind, [status.OK, status.UNAVAILABLE, status.CANCELLED]) }).toEqual({ kind, unexpected: [] });
    await waitFor(() => children.every((pid) => readOrNull(`/proc/${pid}/stat`) === null), 5000, "the daemon's children to be gone");
    expect(processesWith(marker)).toEqual([]);
    expect(cgroupsLeft()).toEqual([]);
    await lxnsd.stop();
  });
});
