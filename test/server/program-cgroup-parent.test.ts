import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import { cgroup2Mount, ownCgroup2, programCgroupParent } from "../../server/programs/program-cgroup";
import { describeRoot } from "../helpers/privileged";

/** A logger that keeps what it was given. */
function recordingLog() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("the programs' cgroup parent: discovery", () => {
  it("finds the cgroup2 mount in mountinfo: hybrid and pure v2", () => {
    const hybrid = "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n29 22 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n";
    expect(cgroup2Mount(hybrid)).toBe("/sys/fs/cgroup/unified");
    expect(cgroup2Mount("25 22 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")).toBe("/sys/fs/cgroup");
    expect(cgroup2Mount("29 22 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")).toBeUndefined();
  });

  it("reads the daemon's own cgroup v2 path from /proc/self/cgroup", () => {
    expect(ownCgroup2("4:memory:/x\n0::/system.slice/lxnsd.service\n")).toBe("/system.slice/lxnsd.service");
    expect(ownCgroup2("4:memory:/x\n")).toBeUndefined();
  });

  it("a configured directory that is not in a cgroup v2 stops the daemon from starting", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-not-cgroup-"));
    try {
      expect(() => programCgroupParent(path.join(dir, "programs"), recordingLog().log)).toThrow(/--program-cgroup: .* is not a cgroup directory/);
      expect(existsSync(path.join(dir, "programs"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

/** Without a cgroup v2 the host suite is skipped visibly (fatal under CI, through describeRoot). */
const hasCgroup2 = (() => {
  try {
    return cgroup2Mount() !== undefined;
  } catch {
    return false;
  }
})();
if (!hasCgroup2) console.warn("program-cgroup-parent: no cgroup v2 mounted; host suite skipped");
const describeHost: jest.Describe = hasCgroup2 || process.env.CI ? describeRoot : describe.skip;

describeHost("the programs' cgroup parent on this host", () => {
  it("default: <own cgroup v2>/lxnsd-programs, created, with cgroup.kill", () => {
    const { log, lines } = recordingLog();
    const dir = programCgroupParent(undefined, log);
    expect(dir).toBe(path.join(cgroup2Mount()!, ownCgroup2()!, "lxnsd-programs"));
    expect(existsSync(path.join(dir!, "cgroup.kill"))).toBe(true);
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
  });

  it("configured: created below a cgroup v2 directory; the cgroups of a daemon that is gone are removed", () => {
    const dir = path.join(cgroup2Mount()!, `lxnsd-test-parent-${process.pid}-${randomInt(1e9)}`);
    // pid 2^22 + 1 is above pid_max's ceiling: no such process.
    const orphan = path.join(dir, "program-4194305-7");
    try {
      expect(programCgroupParent(dir, recordingLog().log)).toBe(dir);
      mkdirSync(orphan);
      const { log, lines } = recordingLog();
      expect(programCgroupParent(dir, log)).toBe(dir);
      expect(existsSync(orphan)).toBe(false);
      expect(lines.some((line) => line.msg.includes("daemon that is gone"))).toBe(true);
    } finally {
      if (existsSync(orphan)) rmdirSync(orphan);
      rmdirSync(dir);
    }
  });
});
