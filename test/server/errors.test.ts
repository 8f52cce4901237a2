import { NamespaceType, Relation, status } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import * as native from "../../native/lib";
import { fdHoldings, newHoldings } from "../helpers/fd-holdings";
import { waitFor } from "../helpers/proc";

const MISSING_PID = 2 ** 22 + 12345; // above pid_max's default range
const realRunChild = native.runChild;

describeRoot("error statuses", () => {
  let lxnsd: TestDaemon;
  let heldBefore: Set<string>;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    await lxnsd.client.getCurrentNamespaces();
  });
  beforeEach(() => {
    heldBefore = fdHoldings();
  });
  afterEach(async () => {
    // Nothing leaked and the daemon still serves.
    expect(newHoldings(heldBefore)).toEqual([]);
    expect((await lxnsd.client.getCurrentNamespaces()).namespaces).toHaveLength(8);
  });
  afterAll(() => lxnsd.stop());

  const pid = (value: number) => ({ case: "pid" as const, value });
  const path = (value: string) => ({ case: "path" as const, value });

  it.each([
    ["no ref", {}],
    ["no source", { ref: { type: NamespaceType.NET } }],
    ["no type with a pid", { ref: { source: pid(process.pid) } }],
    ["pid 0", { ref: { type: NamespaceType.NET, source: pid(0) } }],
    ["a negative pid", { ref: { type: NamespaceType.NET, source: pid(-5) } }],
    ["an unknown type", { ref: { type: 9, source: pid(process.pid) } }],
    ["an unknown relation", { ref: { type: NamespaceType.NET, source: pid(process.pid), relation: 7 } }],
    ["PARENT of a net namespace", { ref: { type: NamespaceType.NET, source: pid(process.pid), relation: Relation.PARENT } }],
    ["self = false", { ref: { type: NamespaceType.NET, source: { case: "self", value: false } } }],
    ["a relative path", { ref: { source: path("proc/self/ns/net") } }],
    ["a path with ..", { ref: { source: path("/proc/../etc/passwd") } }],
    ["a path outside the allowed roots", { ref: { source: path("/etc/passwd") } }],
    ["a path with a NUL byte", { ref: { source: path("/proc/self/ns/net\0x") } }],
    ["a path that is not a namespace file", { ref: { source: path(`/proc/${process.pid}/status`) } }],
  ])("Inspect with %s is INVALID_ARGUMENT", async (_name, request) => {
    await expect(lxnsd.client.inspect(request as never)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("a pid that does not exist is NOT_FOUND, naming errno and syscall", async () => {
    const err = await lxnsd.client.inspect({ ref: { type: NamespaceType.NET, source: pid(MISSING_PID) } }).catch((e) => e);
    // The process is pinned by a pidfd before anything is read about it.
    expect(err).toMatchObject({ code: status.NOT_FOUND, errno: "ESRCH", syscall: "pidfd_open", reason: "ESRCH" });
    expect(err.message).toContain("ESRCH");
  });

  it("a missing namespace file under an allowed root is NOT_FOUND", async () => {
    await expect(lxnsd.client.inspect({ ref: { source: path("/run/netns/lxnsd-test-missing") } })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("a path of the wrong type is FAILED_PRECONDITION", async () => {
    await expect(lxnsd.client.inspect({ ref: { type: NamespaceType.UTS, source: path(`/proc/${process.pid}/ns/net`) } })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
  });

  it("Open with a bad ref opens nothing", async () => {
    await expect(lxnsd.client.open({ ref: { type: NamespaceType.NET, source: pid(MISSING_PID) } })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.open({ ref: { type: NamespaceType.NET, source: pid(process.pid) }, lease: { seconds: -1n } })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
  });

  it("a huge bad name or path is still answered INVALID_ARGUMENT (the quoted input once made the status unsendable: a hang)", async () => {
    await expect(lxnsd.client.pin({ name: "x".repeat(70000), ref: { type: NamespaceType.NET, source: { case: "self", value: true } } }, { timeoutMs: 5000 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(lxnsd.client.bindMount({ source: "/".repeat(5000), targetPath: "/mnt" }, { timeoutMs: 5000 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("GetLimit without a type is INVALID_ARGUMENT", async () => {
    await expect(lxnsd.client.getLimit({})).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("a deadline that passes while the per-request child runs is DEADLINE_EXCEEDED, and the child is killed", async () => {
    // The child sleeps 5 s in its last step (the addon's debug step), so the 300 ms deadline lands while it runs.
    const runChild = jest.spyOn(native, "runChild").mockImplementation((spec, options) => realRunChild({ ...spec, debugSleepMs: 5000 }, options));
    try {
      const started = Date.now();
      const call = lxnsd.client.unshare({ types: [NamespaceType.NET] }, { timeoutMs: 300 });
      await waitFor(() => native.runningChildren() === 1, 2000, "the per-request child to run");
      await expect(call).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
      expect(runChild).toHaveBeenCalledTimes(1);
      // Killed at the deadline, not after its 5 s: nothing it made is kept.
      await waitFor(() => native.runningChildren() === 0, 2000, "the child to be killed and reaped");
      expect(Date.now() - started).toBeLessThan(3000);
      expect(lxnsd.daemon.handles.size).toBe(0);
    } finally {
      runChild.mockRestore();
    }
  });

  it("a request without its required parts is INVALID_ARGUMENT, also for Pin and BindMount", async () => {
    await expect(lxnsd.client.pin({ name: "x" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(lxnsd.client.bindMount({})).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });
});
