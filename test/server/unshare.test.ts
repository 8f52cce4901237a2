import { NamespaceType, status } from "../../client";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { heldPath, nsenterHeld } from "../helpers/held";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, newHoldingKinds, newHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";
import { nsInode, waitFor, waitForChild } from "../helpers/proc";
import { sharedMount } from "../helpers/shared-mount";
import { readFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";

describeRoot("Unshare", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    await lxnsd.client.getCurrentNamespaces();
  });
  afterAll(() => lxnsd.stop());

  it.each(NAMESPACE_KINDS.map((kind) => [kind.name, kind] as const))("of %s alone makes a new namespace, held until Close", async (name, kind) => {
    const heldBefore = fdHoldings();
    const { handles } = await lxnsd.client.unshare({ types: [kind.type] });
    expect(handles).toHaveLength(1);
    const handle = handles[0];
    expect(handle.info?.type).toBe(kind.type);
    expect(handle.info?.nsId).not.toBe(nsInode("self", name));
    expect(heldPath(name, handle.info!.nsId)).toBeDefined();
    // A pid namespace also holds its keeper: the keepalive pipe and the pidfd that watches it.
    expect(newHoldings(heldBefore)).toContainEqual(expect.stringMatching(new RegExp(` -> ${name}:\\[${handle.info!.nsId}\\]$`)));
    expect(newHoldingKinds(heldBefore)).toEqual(kind.type === NamespaceType.PID ? ["anon_inode:[pidfd]", "pid", "pipe"] : [name]);
    const { info } = await lxnsd.client.inspect({ ref: { source: { case: "handle", value: handle.id } } });
    expect(info?.nsId).toBe(handle.info?.nsId);
    await lxnsd.client.close({ handle: handle.id });
    expect(heldPath(name, handle.info!.nsId)).toBeUndefined();
    await waitForNoNewHoldings(heldBefore, 2000, "every fd of the handle to close");
  });

  it("of all 8 types at once gives one handle per type, in type order, the others owned by the new user namespace", async () => {
    const heldBefore = fdHoldings();
    const { handles } = await lxnsd.client.unshare({ types: [...NAMESPACE_KINDS].reverse().map((kind) => kind.type), options: { mapRoot: true } });
    expect(handles.map((handle) => handle.info?.type)).toEqual(NAMESPACE_KINDS.map((kind) => kind.type));
    // One fd per namespace, plus the pid namespace keeper's pipe and pidfd.
    expect(newHoldingKinds(heldBefore)).toEqual([...NAMESPACE_KINDS.map((kind) => kind.name), "anon_inode:[pidfd]", "pipe"].sort());
    const userNs = handles[0].info!.nsId;
    handles.forEach((handle, index) => {
      expect(handle.info?.nsId).not.toBe(nsInode("self", NAMESPACE_KINDS[index].name));
      if (index > 0) expect(handle.info?.ownerUserNsId).toBe(userNs);
    });
    expect(handles[0].info?.parentNsId).toBe(nsInode("self", "user"));
    expect(handles[5].info?.parentNsId).toBe(nsInode("self", "pid"));
    expect(nsenterHeld("user", "user", userNs, ["cat", "/proc/self/uid_map"]).trim().split(/\s+/)).toEqual(["0", "0", "1"]);
    for (const handle of handles) await lxnsd.client.close({ handle: handle.id });
    await waitForNoNewHoldings(heldBefore, 2000, "every fd of the handles to close");
  });

  it("sets the hostname of a new UTS namespace and leaves the host's alone", async () => {
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.UTS], options: { hostname: "lxnsd-test" } });
    try {
      expect(nsenterHeld("uts", "uts", handles[0].info!.nsId, ["hostname"]).trim()).toBe("lxnsd-test");
      expect(require("node:os").hostname()).not.toBe("lxnsd-test");
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it("brings loopback up in a new network namespace only when asked", async () => {
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.NET], options: { loopbackUp: true } });
    const down = await lxnsd.client.unshare({ types: [NamespaceType.NET] });
    try {
      expect(nsenterHeld("net", "net", handles[0].info!.nsId, ["ip", "-o", "link", "show", "lo"])).toMatch(/<[^>]*\bUP\b[^>]*>/);
      expect(nsenterHeld("net", "net", down.handles[0].info!.nsId, ["ip", "-o", "link", "show", "lo"])).not.toMatch(/<[^>]*\bUP\b[^>]*>/);
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
      await lxnsd.client.close({ handle: down.handles[0].id });
    }
  });

  it("makes every mount of a new mount namespace private, so nothing mounted in it reaches the host", async () => {
    const shared = sharedMount();
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.MNT] });
    try {
      const nsId = handles[0].info!.nsId;
      expect(nsenterHeld("mount", "mnt", nsId, ["findmnt", "-n", "-o", "PROPAGATION", shared.dir]).trim()).toBe("private");
      nsenterHeld("mount", "mnt", nsId, ["mount", "-t", "tmpfs", "lxnsd-unshare-test", shared.sub]);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain("lxnsd-unshare-test");
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
      shared.remove();
    }
  });

  it("writes explicit uid and gid maps", async () => {
    const { handles } = await lxnsd.client.unshare({
      types: [NamespaceType.USER],
      options: { uidMap: [{ insideId: 0, outsideId: 100000, length: 65536 }], gidMap: [{ insideId: 0, outsideId: 200000, length: 1000 }] },
    });
    try {
      const nsId = handles[0].info!.nsId;
      expect(nsenterHeld("user", "user", nsId, ["cat", "/proc/self/uid_map"]).trim().split(/\s+/)).toEqual(["0", "100000", "65536"]);
      expect(nsenterHeld("user", "user", nsId, ["cat", "/proc/self/gid_map"]).trim().split(/\s+/)).toEqual(["0", "200000", "1000"]);
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it("applies a boottime offset to a new time namespace, held through time_for_children", async () => {
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.TIME], options: { boottimeOffset: { seconds: 86400n } } });
    try {
      const inside = Number(nsenterHeld("time", "time", handles[0].info!.nsId, ["cat", "/proc/uptime"]).split(" ")[0]);
      const outside = Number(require("node:fs").readFileSync("/proc/uptime", "utf8").split(" ")[0]);
      expect(inside - outside).toBeGreaterThan(86400 - 5);
      expect(inside - outside).toBeLessThan(86400 + 5);
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it("keeps a new pid namespace alive while held: processes can join it again and again, Close ends it", async () => {
    const heldBefore = fdHoldings();
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.PID] });
    const nsId = handles[0].info!.nsId;
    const file = heldPath("pid", nsId)!;
    const pidsInside = [0, 1].map(() => {
      // /proc is the host's here, so a process looks itself up through /proc/self.
      const out = execFileSync("nsenter", [`--pid=${file}`, "sh", "-c", "readlink /proc/self/ns/pid; grep NSpid /proc/self/status"], { encoding: "utf8" }).split("\n");
      expect(out[0]).toBe(`pid:[${nsId}]`);
      return Number(out[1].trim().split(/\s+/).pop());
    });
    // Its init (the keeper) is pid 1; each joining process gets a new pid after it.
    expect(pidsInside[0]).toBeGreaterThan(1);
    expect(pidsInside[1]).toBeGreaterThan(pidsInside[0]);
    const sleeper = spawn("nsenter", [`--pid=${file}`, "sleep", "100"], { stdio: "ignore" });
    const sleeperExit = new Promise((resolve) => sleeper.once("exit", (code, signal) => resolve(signal)));
    // Close only once the sleeper is inside (nsenter forks it there): closed
    // earlier, the handle's /proc/PID/fd path is gone before nsenter opens it.
    const inside = await waitForChild(sleeper.pid!);
    await waitFor(() => {
      try {
        return nsInode(inside, "pid") === BigInt(nsId);
      } catch {
        return false;
      }
    }, 5000, "the sleeper inside the pid namespace");
    await lxnsd.client.close({ handle: handles[0].id });
    // Closing the handle ends the namespace's init, and with it everything inside.
    expect(await sleeperExit).toBe("SIGKILL");
    await waitForNoNewHoldings(heldBefore, 2000, "the keeper's fds to close");
  });

  // The kernel's rules for /proc/PID/timens_offsets (kernel/time/namespace.c,
  // proc_timens_set_offset): |seconds| <= KTIME_SEC_MAX, and the clock plus the
  // offset within [0, KTIME_SEC_MAX / 2] seconds. A fuzzed Exec (seed 1263005350)
  // got OUT_OF_RANGE from the child's write (ERANGE) instead of INVALID_ARGUMENT.
  const monotonicNow = () => process.hrtime.bigint() / 1_000_000_000n;
  const boottimeNow = () => BigInt(Math.floor(Number(readFileSync("/proc/uptime", "utf8").split(" ")[0])));
  it.each([
    ["a monotonic offset that puts the clock below zero", () => ({ monotonicOffset: { seconds: -(monotonicNow() + 60n) } }), "options.monotonic_offset"],
    ["a boottime offset that puts the clock below zero", () => ({ boottimeOffset: { seconds: -(boottimeNow() + 60n) } }), "options.boottime_offset"],
    ["a monotonic offset past KTIME_SEC_MAX", () => ({ monotonicOffset: { seconds: 9_223_372_037n } }), "options.monotonic_offset"],
    ["a boottime offset far below -KTIME_SEC_MAX", () => ({ boottimeOffset: { seconds: -(2n ** 62n) } }), "options.boottime_offset"],
    ["a boottime offset that puts the clock past KTIME_SEC_MAX / 2", () => ({ boottimeOffset: { seconds: 4_611_686_018n - boottimeNow() + 60n } }), "options.boottime_offset"],
  ])("refuses %s with INVALID_ARGUMENT naming the field, before anything runs", async (_name, options, field) => {
    const heldBefore = fdHoldings();
    const err = await lxnsd.client.unshare({ types: [NamespaceType.TIME, NamespaceType.UTS], options: options() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as Error).message).toContain(field);
    expect(newHoldings(heldBefore)).toEqual([]);
  });

  it("accepts clock offsets down to just above zero and up to just under KTIME_SEC_MAX / 2", async () => {
    const { handles } = await lxnsd.client.unshare({
      types: [NamespaceType.TIME],
      options: { monotonicOffset: { seconds: -(monotonicNow() - 60n) }, boottimeOffset: { seconds: 4_611_686_018n - boottimeNow() - 3600n } },
    });
    try {
      const uptime = Number(nsenterHeld("time", "time", handles[0].info!.nsId, ["cat", "/proc/uptime"]).split(" ")[0]);
      expect(uptime).toBeGreaterThan(4_611_686_018 - 3600 - 5);
      expect(uptime).toBeLessThanOrEqual(4_611_686_018);
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
  });

  it.each([
    ["no types", { types: [] }],
    ["an unspecified type", { types: [NamespaceType.UNSPECIFIED] }],
    ["an unknown type", { types: [42] }],
    ["a type twice", { types: [NamespaceType.NET, NamespaceType.NET] }],
    ["map_root without USER", { types: [NamespaceType.NET], options: { mapRoot: true } }],
    ["map_root and uid_map", { types: [NamespaceType.USER], options: { mapRoot: true, uidMap: [{ insideId: 0, outsideId: 0, length: 1 }] } }],
    ["a zero-length map line", { types: [NamespaceType.USER], options: { uidMap: [{ insideId: 0, outsideId: 0, length: 0 }] } }],
    ["overlapping map lines", { types: [NamespaceType.USER], options: { uidMap: [{ insideId: 0, outsideId: 0, length: 10 }, { insideId: 5, outsideId: 100, length: 10 }] } }],
    ["a hostname without UTS", { types: [NamespaceType.NET], options: { hostname: "x" } }],
    ["a hostname of 65 bytes", { types: [NamespaceType.UTS], options: { hostname: "h".repeat(65) } }],
    ["an offset without TIME", { types: [NamespaceType.NET], options: { boottimeOffset: { seconds: 1n } } }],
    ["loopback_up without NET", { types: [NamespaceType.UTS], options: { loopbackUp: true } }],
    ["a lease under a second", { types: [NamespaceType.UTS], lease: { nanos: 1000 } }],
  ])("refuses %s with INVALID_ARGUMENT and leaks nothing", async (_name, request) => {
    const heldBefore = fdHoldings();
    await expect(lxnsd.client.unshare(request as never)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(newHoldings(heldBefore)).toEqual([]);
    expect((await lxnsd.client.getCurrentNamespaces()).namespaces).toHaveLength(8);
  });
});
