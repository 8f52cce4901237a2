// Net, uts and ipc sysctls of an unrestricted caller run on a new thread of
// the daemon that joins the namespace and ends with the call (native
// sysctlOnThread). These tests run the daemon in this process, so its
// threads are this process's: /proc/self/task/*/ns show where each one is.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { NamespaceType, status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { waitFor } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const TYPES = ["net", "uts", "ipc"] as const;
const ref = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });
const nsenter = (pid: number, flag: string, ...args: string[]) => execFileSync("nsenter", ["-t", String(pid), flag, ...args], { encoding: "utf8" }).trim();

/** The namespace (`net:[4026…]`) of each thread of this process, by tid; threads that end meanwhile are left out. */
function threadNamespaces(type: (typeof TYPES)[number]): Map<number, string> {
  const out = new Map<number, string>();
  for (const tid of readdirSync("/proc/self/task").map(Number)) {
    try {
      out.set(tid, readlinkSync(`/proc/self/task/${tid}/ns/${type}`));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Threads of this process in `ns` (a readlink of an ns file). */
const threadsIn = (type: (typeof TYPES)[number], ns: string) => [...threadNamespaces(type)].filter(([, link]) => link === ns).map(([tid]) => tid);

/** Longest gap between ticks of a 10 ms interval while `body` runs: how long the event loop was blocked at most. */
async function loopLag<T>(body: () => Promise<T>): Promise<{ result: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 10);
  try {
    const result = await body();
    return { result, maxGapMs };
  } finally {
    clearInterval(timer);
  }
}

describeRoot("sysctls on a thread of their own", () => {
  const own = Object.fromEntries(TYPES.map((type) => [type, readlinkSync(`/proc/${process.pid}/task/${process.pid}/ns/${type}`)]));
  let target: Target;
  let targetNs: Record<string, string>;

  beforeAll(async () => {
    target = await startTarget(["unshare", "--net", "--uts", "--ipc"]);
    targetNs = Object.fromEntries(TYPES.map((type) => [type, readlinkSync(`/proc/${target.pid}/ns/${type}`)]));
  });
  afterAll(async () => {
    await target?.kill();
  });

  describe("many calls", () => {
    let lxnsd: TestDaemon;
    beforeAll(async () => {
      lxnsd = await startDaemon();
    });
    afterAll(async () => {
      await lxnsd?.stop();
    });

    it("change the target's sysctls only and leave every thread of the daemon in its own namespaces", async () => {
      const host = { forward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostname: readFileSync("/proc/sys/kernel/hostname", "utf8"), shmmni: readFileSync("/proc/sys/kernel/shmmni", "utf8") };
      const net = ref(NamespaceType.NET, target.pid);
      const uts = ref(NamespaceType.UTS, target.pid);
      const ipc = ref(NamespaceType.IPC, target.pid);
      for (let round = 0; round < 20; round++) {
        const forward = String(round % 2);
        const answers = await Promise.all([
          lxnsd.client.setSysctl({ ref: net, name: "net.ipv4.ip_forward", value: forward }),
          lxnsd.client.setSysctl({ ref: uts, name: "kernel.hostname", value: `box-${round}` }),
          lxnsd.client.setSysctl({ ref: ipc, name: "kernel.shmmni", value: String(1000 + round) }),
          lxnsd.client.getSysctl({ ref: net, name: "net.ipv4.conf.lo.forwarding" }),
          lxnsd.client.getSysctl({ ref: uts, name: "kernel.domainname" }),
          lxnsd.client.getSysctl({ ref: ipc, name: "fs.mqueue.msg_max" }),
          lxnsd.client.setSysctl({ ref: net, name: "net.ipv4.ip_forward", value: "x" }).catch((err: { code: status }) => err.code),
          lxnsd.client.getSysctl({ ref: net, name: "net.ipv4.no_such_thing" }).catch((err: { code: status }) => err.code),
        ]);
        expect(answers.slice(0, 3).map((a) => (a as { value: string }).value)).toEqual([forward, `box-${round}`, String(1000 + round)]);
        expect(answers.slice(6)).toEqual([status.INVALID_ARGUMENT, status.NOT_FOUND]);
      }
      expect(nsenter(target.pid, "-n", "sysctl", "-n", "net.ipv4.ip_forward")).toBe("1");
      expect(nsenter(target.pid, "-u", "hostname")).toBe("box-19");
      expect(nsenter(target.pid, "-i", "cat", "/proc/sys/kernel/shmmni")).toBe("1019");
      expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(host.forward);
      expect(readFileSync("/proc/sys/kernel/hostname", "utf8")).toBe(host.hostname);
      expect(readFileSync("/proc/sys/kernel/shmmni", "utf8")).toBe(host.shmmni);
      // A sysctl thread ends just after it answered: none is left in the target's namespaces, and no other thread ever went there.
      await waitFor(() => TYPES.every((type) => threadsIn(type, targetNs[type]).length === 0), 5000, "the sysctl threads to end");
      for (const type of TYPES) expect([...new Set(threadNamespaces(type).values())]).toEqual([own[type]]);
    });
  });

  describe("a sysctl that hangs", () => {
    let lxnsd: TestDaemon;
    // Long enough that a blocked event loop or a call that waited for the thread stands out far above a busy machine's delays.
    const SLEEP_MS = 4000;
    beforeAll(async () => {
      lxnsd = await startDaemon({ childTimeoutMs: 300, testSysctlSleepMs: SLEEP_MS });
    });
    afterAll(async () => {
      await lxnsd?.stop();
    });

    it("answers at its timeout, blocks no other call nor the event loop, and keeps its thread and slot until the kernel returns", async () => {
      const started = performance.now();
      const { result, maxGapMs } = await loopLag(async () => {
        const call = lxnsd.client.setSysctl({ ref: ref(NamespaceType.NET, target.pid), name: "net.ipv4.ip_forward", value: "1" }).then(
          () => "OK",
          (err: { code: status }) => status[err.code],
        );
        // While the thread sleeps in the target's network namespace, other calls are answered.
        await waitFor(() => threadsIn("net", targetNs.net).length === 1, 2000, "the sysctl thread to join the target's netns");
        const inspected = performance.now();
        await lxnsd.client.inspect({ ref: ref(NamespaceType.NET, target.pid) });
        return { outcome: await call, inspectMs: performance.now() - inspected, answeredMs: performance.now() - started };
      });
      expect(result.outcome).toBe("DEADLINE_EXCEEDED");
      expect(result.answeredMs).toBeLessThan(SLEEP_MS - 1500);
      expect(result.inspectMs).toBeLessThan(SLEEP_MS - 1500);
      expect(maxGapMs).toBeLessThan(SLEEP_MS - 2500);
      // Only that thread joined, and only the target's net namespace (uts and ipc unchanged).
      expect(threadsIn("net", targetNs.net)).toHaveLength(1);
      expect(threadsIn("uts", targetNs.uts)).toHaveLength(0);
      expect(lxnsd.daemon.slots.active).toBe(1);
      await waitFor(() => threadsIn("net", targetNs.net).length === 0, SLEEP_MS + 3000, "the sysctl thread to end");
      await waitFor(() => lxnsd.daemon.slots.active === 0, 2000, "its slot to be freed");
      expect([...new Set(threadNamespaces("net").values())]).toEqual([own.net]);
    });

    it("leaves user sysctls to a per-request child", async () => {
      const userTarget = await startTarget(["unshare", "--user", "--map-root-user"]);
      try {
        const started = performance.now();
        const { value } = await lxnsd.client.getSysctl({ ref: ref(NamespaceType.USER, userTarget.pid), name: "user.max_net_namespaces" });
        expect(value).toBe(nsenter(userTarget.pid, "-U", "--preserve-credentials", "cat", "/proc/sys/user/max_net_namespaces"));
        expect(performance.now() - started).toBeLessThan(SLEEP_MS);
      } finally {
        await userTarget.kill();
      }
    });
  });
});
