// No fd, child or zombie outlives a runChild request, on any path; and the
// measured cost of a child (printed, not asserted).
import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, countFds } from "../helpers/proc";

const { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWUSER } = native;

function p50(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describeRoot("native runChild leaks and cost", () => {
  it("200 mixed runs (success, step failure, parent failure, timeout, cancel) leave no fd, child or zombie", async () => {
    const net = native.openPath("/proc/self/ns/net");
    const baseline = countFds();
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
    expect(countFds()).toBe(baseline);
    expect(childrenOf(process.pid)).toEqual([]);
    native.close(net);
  });

  it("measures p50 of an unshare NET|UTS + hold child against a join + readFile child", async () => {
    const uts = native.openPath("/proc/self/ns/uts");
    const net = native.openPath("/proc/self/ns/net");
    const time = native.openPath("/proc/self/ns/time");
    const measure = async (spec: native.ChildSpec, n = 200): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint();
        const r = await native.runChild(spec);
        samples.push(Number(process.hrtime.bigint() - start) / 1000);
        for (const fd of r.fds) native.close(fd);
      }
      return p50(samples);
    };
    const join = [{ fd: net, nstype: CLONE_NEWNET }, { fd: uts, nstype: CLONE_NEWUTS }];
    await measure({ join }, 20); // warm up
    const rows = {
      "unshare NET|UTS + hostname + lo + hold net,uts": await measure({
        unshareFlags: CLONE_NEWNET | CLONE_NEWUTS,
        hostname: "bench",
        loopbackUp: true,
        holdNs: ["net", "uts"],
      }),
      "join net+uts + readFile hostname": await measure({ join, readFile: { path: "/proc/sys/kernel/hostname", maxBytes: 64 } }),
      "join net+uts, nothing else": await measure({ join }),
      "join time (fork-style) + readFile": await measure({ join: [{ fd: time, nstype: native.CLONE_NEWTIME }], readFile: { path: "/proc/uptime", maxBytes: 64 } }, 50),
    };
    // eslint-disable-next-line no-console
    console.log(
      "runChild p50 (µs, sequential, includes the event-loop round trip):\n" +
        Object.entries(rows).map(([k, v]) => `  ${k.padEnd(50)} ${v.toFixed(0)}`).join("\n"),
    );
    for (const fd of [uts, net, time]) native.close(fd);
    expect(native.runningChildren()).toBe(0);
  });
});
