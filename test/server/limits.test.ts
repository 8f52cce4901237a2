import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { NamespaceType, status } from "../../client";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { nsenterHeld } from "../helpers/held";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";

const ownLimit = (name: string) => BigInt(readFileSync(`/proc/sys/user/max_${name}_namespaces`, "utf8").trim());

describeRoot("GetLimit and SetLimit", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(() => lxnsd.stop());

  it.each(NAMESPACE_KINDS.map((kind) => [kind.name, kind.type] as const))("of the daemon's user namespace equals /proc/sys/user/max_%s_namespaces", async (name, type) => {
    expect((await lxnsd.client.getLimit({ type })).value).toBe(ownLimit(name));
  });

  it("of the daemon's own user namespace named by a process in it (by pid, by self) reads it in-process: the child could not join it (setns EINVAL)", async () => {
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      for (const source of [{ case: "pid" as const, value: sleeper.pid! }, { case: "self" as const, value: true }]) {
        const userNamespace = { type: NamespaceType.USER, source };
        expect((await lxnsd.client.getLimit({ type: NamespaceType.NET, userNamespace })).value).toBe(ownLimit("net"));
        // SetLimit answers as for the daemon's own namespace named by no reference (this machine's /proc/sys/user may be read-only: EACCES).
        const current = ownLimit("ipc");
        const settle = (answer: Promise<{ value: bigint }>) => answer.then((r) => ({ value: r.value }), (err) => ({ code: err.code, errno: err.errno }));
        const unnamed = await settle(lxnsd.client.setLimit({ type: NamespaceType.IPC, value: current }));
        expect(await settle(lxnsd.client.setLimit({ type: NamespaceType.IPC, value: current, userNamespace }))).toEqual(unnamed);
        expect(ownLimit("ipc")).toBe(current);
      }
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("SetLimit of the daemon's own namespace writes the sysctl, or fails as the kernel refuses", async () => {
    const current = ownLimit("uts");
    let refused: string | undefined;
    try {
      writeFileSync("/proc/sys/user/max_uts_namespaces", `${current}\n`);
    } catch (err) {
      refused = (err as NodeJS.ErrnoException).code;
    }
    const answer = lxnsd.client.setLimit({ type: NamespaceType.UTS, value: current });
    if (refused) await expect(answer).rejects.toMatchObject({ code: status.PERMISSION_DENIED, errno: refused });
    else expect((await answer).value).toBe(current);
    expect(ownLimit("uts")).toBe(current);
  });

  it("lxns: SetLimit(USER, 0) in a new user namespace gives 0 there and leaves the daemon's unchanged", async () => {
    const before = ownLimit("user");
    const heldBefore = fdHoldings();
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.USER], options: { mapRoot: true } });
    const userNamespace = { type: NamespaceType.USER, source: { case: "handle" as const, value: handles[0].id } };
    try {
      expect((await lxnsd.client.setLimit({ type: NamespaceType.USER, value: 0n, userNamespace })).value).toBe(0n);
      expect((await lxnsd.client.getLimit({ type: NamespaceType.USER, userNamespace })).value).toBe(0n);
      // Exactly what a process in that namespace reads from its /proc/sys (the kernel starts a new user namespace's limits at INT_MAX).
      const netThere = BigInt(nsenterHeld("user", "user", handles[0].info!.nsId, ["cat", "/proc/sys/user/max_net_namespaces"]).trim());
      expect((await lxnsd.client.getLimit({ type: NamespaceType.NET, userNamespace })).value).toBe(netThere);
      expect(BigInt(nsenterHeld("user", "user", handles[0].info!.nsId, ["cat", "/proc/sys/user/max_user_namespaces"]).trim())).toBe(0n);
      expect(ownLimit("user")).toBe(before);
      expect(before).toBeGreaterThan(0n);
      expect((await lxnsd.client.getLimit({ type: NamespaceType.USER })).value).toBe(before);
      // The kernel enforces it there: a process in that namespace cannot make a user namespace...
      expect(() => nsenterHeld("user", "user", handles[0].info!.nsId, ["unshare", "--user", "true"])).toThrow(/No space left on device/);
      // ...while it still can make a network namespace.
      nsenterHeld("user", "user", handles[0].info!.nsId, ["unshare", "--net", "true"]);
    } finally {
      await lxnsd.client.close({ handle: handles[0].id });
    }
    await waitForNoNewHoldings(heldBefore, 2000);
  });

  it.each([
    ["no type", { type: NamespaceType.UNSPECIFIED, value: 1n }, status.INVALID_ARGUMENT],
    ["an unknown type", { type: 9, value: 1n }, status.INVALID_ARGUMENT],
    ["a negative value", { type: NamespaceType.NET, value: -1n }, status.INVALID_ARGUMENT],
    ["a value past INT_MAX", { type: NamespaceType.NET, value: 2147483648n }, status.INVALID_ARGUMENT],
    ["a user_namespace of another type", { type: NamespaceType.NET, value: 1n, userNamespace: { type: NamespaceType.NET, source: { case: "self", value: true } } }, status.FAILED_PRECONDITION],
    ["a user_namespace of a missing pid", { type: NamespaceType.NET, value: 1n, userNamespace: { source: { case: "pid", value: 2 ** 30 } } }, status.NOT_FOUND],
  ])("SetLimit with %s is refused and changes nothing", async (_name, request, code) => {
    const before = ownLimit("net");
    await expect(lxnsd.client.setLimit(request as never)).rejects.toMatchObject({ code });
    expect(ownLimit("net")).toBe(before);
  });
});
