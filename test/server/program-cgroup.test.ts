import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient, status } from "../../client";
import { cgroup2Mount } from "../helpers/cgroup";
import { startDaemon } from "../helpers/daemon";
import { spawnDaemon } from "../helpers/daemon-process";
import type { TestDaemon } from "../helpers/daemon";
import { codeOf } from "../helpers/outcome";
import { describeRoot } from "../helpers/privileged";
import { waitFor } from "../helpers/proc";
import { processesWith, runMarker } from "../reliability/support/markers";

/** cgroup.kill needs Linux 5.14 and a cgroup v2 hierarchy; without them the suite is skipped (fatal under CI). */
const cgroupKill = (() => {
  if (process.geteuid?.() !== 0) return false;
  try {
    // The root cgroup has no cgroup.kill: probe with a fresh child.
    const probe = path.join(cgroup2Mount(), `lxnsd-probe-${process.pid}-${randomInt(1e9)}`);
    mkdirSync(probe);
    try {
      return existsSync(path.join(probe, "cgroup.kill"));
    } finally {
      rmdirSync(probe);
    }
  } catch {
    return false;
  }
})();

const describeCgroup: jest.Describe = cgroupKill || process.env.CI ? describeRoot : describe.skip;
if (!cgroupKill) console.warn("program-cgroup: no cgroup v2 with cgroup.kill here; suite skipped");

/** Waits until the background job $! has exec'd sleep (so setsid(2) is behind it). */
const AWAIT_SETSID = `until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done`;

/** A shell that starts `sleep MARKER` in a session of its own (out of its process group), then goes on. */
const escaping = (marker: string, then: string) => ["sh", "-c", `setsid sleep ${marker} </dev/null >/dev/null 2>&1 & ${AWAIT_SETSID}; ${then}`, marker];

describeCgroup("programs live in a cgroup of their own: nothing they start outlives the request", () => {
  let lxnsd: TestDaemon;
  let marker: string;

  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(async () => {
    await lxnsd.stop();
  });
  beforeEach(() => {
    marker = runMarker();
  });
  afterEach(() => {
    // Whatever a failing test left: only processes with this test's marker.
    for (const pid of processesWith(marker)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  it("Run: a setsid'd background job is gone when the answer comes (normal exit)", async () => {
    const result = await lxnsd.client.run({ argv: escaping(marker, "echo started") });
    expect(result.exit).toEqual({ code: 0 });
    expect(result.stdout.toString()).toBe("started\n");
    expect(processesWith(marker)).toEqual([]);
  });

  it("Run: a setsid'd job that keeps stdout open does not hold the answer; it is killed with the program", async () => {
    const result = await lxnsd.client.run({ argv: ["sh", "-c", `setsid sleep ${marker} & ${AWAIT_SETSID}; echo started`, marker] });
    expect(result.exit).toEqual({ code: 0 });
    expect(result.stdout.toString()).toBe("started\n");
    expect(processesWith(marker)).toEqual([]);
  }, 15000);

  it("Run: at the timeout the setsid'd job dies too (DEADLINE_EXCEEDED)", async () => {
    const code = await codeOf(lxnsd.client.run({ argv: escaping(marker, `sleep ${marker}`), timeout: { nanos: 300_000_000 } }));
    expect(code).toBe(status[status.DEADLINE_EXCEEDED]);
    expect(processesWith(marker)).toEqual([]);
  });

  it("Exec: after a normal exit no setsid'd job is left", async () => {
    const session = lxnsd.client.exec({ argv: escaping(marker, "echo started") });
    expect(await session.wait()).toEqual({ code: 0 });
    expect(processesWith(marker)).toEqual([]);
  });

  it("Exec: at the timeout no setsid'd job is left", async () => {
    const session = lxnsd.client.exec({ argv: escaping(marker, `sleep ${marker}`), timeout: { nanos: 300_000_000 } });
    expect(await codeOf(session.wait())).toBe(status[status.DEADLINE_EXCEEDED]);
    expect(processesWith(marker)).toEqual([]);
  });

  it("Exec: after a cancel no setsid'd job is left", async () => {
    const controller = new AbortController();
    const session = lxnsd.client.exec({ argv: escaping(marker, `echo started; sleep ${marker}`) }, { signal: controller.signal });
    for await (const chunk of session.output) {
      if (Buffer.from(chunk.data).toString().includes("started")) break;
    }
    await waitFor(() => processesWith(marker).length >= 2, 5000, "the program and its setsid'd job");
    controller.abort();
    await expect(session.wait()).rejects.toThrow(/abort/i);
    // The client has its answer at once; the daemon kills and waits on its side.
    await waitFor(() => processesWith(marker).length === 0, 5000, "no process with the marker");
  });

  it("the program's /proc/PID/cgroup names a cgroup of its own, removed after it ended", async () => {
    const own = readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m)![1];
    const session = lxnsd.client.exec({ argv: ["sh", "-c", `cat /proc/self/cgroup; sleep ${marker}`, marker] });
    const pid = await session.started;
    const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").match(/^0::(.*)$/m)![1];
    expect(line).not.toBe(own);
    expect(path.posix.dirname(line)).toBe(path.posix.join(own, "lxnsd-programs"));
    const dir = path.join(cgroup2Mount(), line);
    expect(readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number)).toContain(pid);
    session.signal(9);
    await session.wait();
    expect(existsSync(dir)).toBe(false);  // killed: never kept for another program
  });

  it("Run: a program that left nothing leaves its cgroup empty, and the next Run is cloned into it", async () => {
    const first = await lxnsd.client.run({ argv: ["cat", "/proc/self/cgroup"] });
    const dir = cgroupOf(first.stdout.toString());
    expect(path.basename(dir)).toMatch(new RegExp(`^program-${process.pid}-\\d+$`));
    expect(readFileSync(path.join(dir, "cgroup.procs"), "utf8")).toBe("");
    expect(readFileSync(path.join(dir, "cgroup.events"), "utf8")).toMatch(/^populated 0$/m);
    const second = await lxnsd.client.run({ argv: ["cat", "/proc/self/cgroup"] });
    expect(cgroupOf(second.stdout.toString())).toBe(dir);
  });

  it("Run after one whose setsid'd job was killed with its cgroup: a fresh cgroup, and the program is not SIGKILLed at birth", async () => {
    const first = await lxnsd.client.run({ argv: escaping(marker, "cat /proc/self/cgroup") });
    expect(first.exit).toEqual({ code: 0 });
    const killed = cgroupOf(first.stdout.toString());
    expect(existsSync(killed)).toBe(false);
    const second = await lxnsd.client.run({ argv: ["sh", "-c", "cat /proc/self/cgroup; echo ran"] });
    expect(second.exit).toEqual({ code: 0 });
    expect(second.stdout.toString()).toMatch(/ran\n$/);
    expect(cgroupOf(second.stdout.toString())).not.toBe(killed);
  });

  it("a stopped daemon leaves none of its programs' cgroups behind (the idle ones included)", async () => {
    const other = await startDaemon();
    let dir: string;
    try {
      dir = cgroupOf((await other.client.run({ argv: ["cat", "/proc/self/cgroup"] })).stdout.toString());
      expect(existsSync(dir)).toBe(true);  // idle, for the next program
    } finally {
      await other.stop();
    }
    expect(existsSync(dir)).toBe(false);
    // Nothing of this process's daemons: the first daemon's idle ones went with killAll too (in-process daemons share the addon).
    expect(readdirSync(path.dirname(dir)).filter((name) => name.startsWith(`program-${process.pid}-`))).toEqual([]);
  });

  it("a daemon process stopped by SIGTERM right after a Run leaves no cgroup behind (its idle one included)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-cgpool-"));
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const daemon = spawnDaemon(["--listen", socket, "--state-dir", path.join(dir, "state"), "--netns-dir", ""]);
    try {
      await daemon.ready;
      const client = createClient(socket);
      let cgroup: string;
      try {
        cgroup = cgroupOf((await client.run({ argv: ["cat", "/proc/self/cgroup"] })).stdout.toString());
      } finally {
        client.disconnect();
      }
      expect(path.basename(cgroup)).toMatch(new RegExp(`^program-${daemon.proc.pid}-\\d+$`));
      expect(existsSync(cgroup)).toBe(true);  // idle, for the next program
      expect(await daemon.stop()).toBe(0);
      expect(existsSync(cgroup)).toBe(false);
      expect(readdirSync(path.dirname(cgroup)).filter((name) => name.startsWith(`program-${daemon.proc.pid}-`))).toEqual([]);
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The cgroup v2 directory of a "0::/path" line in `text` (a program's /proc/self/cgroup). */
function cgroupOf(text: string): string {
  return path.join(cgroup2Mount(), text.match(/^0::(.*)$/m)![1]);
}
