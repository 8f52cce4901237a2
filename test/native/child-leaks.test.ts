// No fd, child or zombie outlives a runChild request, on any path. What a
// child costs is measured in bench/native-child.ts, not here.
import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, newHoldings } from "../helpers/fd-holdings";
import { childrenOf } from "../helpers/proc";

const { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWUSER } = native;

describeRoot("native runChild leaks", () => {
  it("200 mixed runs (success, step failure, parent failure, timeout, cancel) leave no fd, child or zombie", async () => {
    const net = native.openPath("/proc/self/ns/net");
    const baseline = fdHoldings();
    const specs: native.ChildSpec[] = [
      { unshareFlags: CLONE_NEWNET | CLONE_NEWUTS, hostname: "leak", loopbackUp: true, holdNs: ["net", "uts"] },
      { join: [{ fd: net, nstype: CLONE_NEWNET }], readFile: { path: "/proc/self/net/dev", maxBytes: 65536 } },
      { join: [{ fd: net, nstype: CLONE_NEWUTS }] },
      { writeFile: { path: "/nonexistent/lxnsd", data: "x" } },
      { unshareFlags: CLONE_NEWUSER, idMap: { uidMap: "0 0 1", gidMap: "0 0 1", setgroups: "deny" }, holdNs: ["user"] },
      { unshareFlags: CLONE_NEWUSER, idMap: { uidMap: "bad", gidMap: "", setgroups: "deny" }, holdNs: ["user"] },
      { unshareFlags: CLONE_NEWNET, holdNs: ["net", "user", "ipc"], debugSleepMs: 200, timeoutMs: 20 },
    ];
    let ok = 0;
    let failed = 0;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const ac = new AbortController();
      const spec = i % 25 === 24 ? { debugSleepMs: 1000 } : specs[i % specs.length];
      if (i % 25 === 24) setTimeout(() => ac.abort(), 5);
      runs.push(
        native.runChild(spec, { signal: ac.signal }).then(
          (r) => {
            ok++;
            for (const fd of r.fds) native.close(fd);
          },
          (err: unknown) => {
            expect(err).toBeInstanceOf(native.NativeError);
            failed++;
          },
        ),
      );
      if (i % 8 === 7) await Promise.all(runs.splice(0)); // concurrency 8
    }
    await Promise.all(runs);
    expect(ok + failed).toBe(200);
    expect(ok).toBeGreaterThan(50);
    expect(failed).toBeGreaterThan(50);
    expect(native.runningChildren()).toBe(0);
    expect(newHoldings(baseline)).toEqual([]);
    expect(childrenOf(process.pid)).toEqual([]);
    native.close(net);
  });
});
