import { execFileSync, spawnSync } from "node:child_process";
import { NamespaceType } from "../../client";
/** The ExecSpec fields a case adds. */
type ProgramExtra = { uid?: number; gid?: number; preserveCredentials?: boolean };
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/**
 * Joining processes that have a user namespace of their own (`unshare -r`,
 * rootless runtimes, pods with hostUsers: false), compared with what
 * nsenter prints on the same target: ids, effective capabilities and every
 * namespace the program ends up in.
 */

const PROBE = "id; grep CapEff /proc/self/status; for n in cgroup ipc mnt net pid time user uts; do readlink /proc/self/ns/$n; done";

/** nsenter's flag for each type. */
const NSENTER_FLAG: Record<number, string> = {
  [NamespaceType.USER]: "-U",
  [NamespaceType.CGROUP]: "-C",
  [NamespaceType.IPC]: "-i",
  [NamespaceType.NET]: "-n",
  [NamespaceType.MNT]: "-m",
  [NamespaceType.PID]: "-p",
  [NamespaceType.TIME]: "-T",
  [NamespaceType.UTS]: "-u",
};
const ALL = [NamespaceType.USER, NamespaceType.CGROUP, NamespaceType.IPC, NamespaceType.NET, NamespaceType.MNT, NamespaceType.PID, NamespaceType.TIME, NamespaceType.UTS];

const pidRef = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });

/** A program as a user without groups of its own: `id` then prints the same groups whoever started it. */
const AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"];

describeRoot("joining a process with its own user namespace, as nsenter does", () => {
  let lxnsd: TestDaemon;
  const targets: Target[] = [];
  /** Made by root: `unshare -r` with net, uts, ipc and mount namespaces owned by the new user namespace. */
  let byRoot: Target;
  /** Made by uid 65534: only a user namespace (the host's mount, net, … namespaces stay). */
  let byNobodyUserOnly: Target;
  /** Made by uid 65534: user, net, uts, mount, cgroup and time namespaces (time through --fork). */
  let byNobody: Target;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    byRoot = await startTarget(["unshare", "-r", "--net", "--uts", "--ipc", "--mount", "--"]);
    targets.push(byRoot);
    byNobodyUserOnly = await startTarget([...AS_NOBODY, "unshare", "-r", "--"]);
    targets.push(byNobodyUserOnly);
    byNobody = await startTarget([...AS_NOBODY, "unshare", "-r", "--net", "--uts", "--mount", "--cgroup", "--time", "--fork", "--"]);
    targets.push(byNobody);
  });
  afterAll(async () => {
    await Promise.all(targets.map((target) => target.kill()));
    await lxnsd.stop();
  });

  /** What nsenter prints and its exit status; `extra` before the program (e.g. -S 0). */
  const nsenter = (target: Target, types: NamespaceType[] | "all", extra: string[] = []) => {
    const flags = types === "all" ? ["-a"] : types.map((type) => NSENTER_FLAG[type]);
    const result = spawnSync("nsenter", ["-t", String(target.pid), ...flags, ...extra, "sh", "-c", PROBE], { encoding: "utf8" });
    return { code: result.status, stdout: result.stdout };
  };
  const lxnsdRun = async (target: Target, types: NamespaceType[] | "all", extra: ProgramExtra = {}) => {
    const join = (types === "all" ? ALL : types).map((type) => pidRef(type, target.pid));
    const result = await lxnsd.client.run({ join, argv: ["sh", "-c", PROBE], ...extra });
    return { code: result.exit?.code, stdout: Buffer.from(result.stdout).toString() };
  };
  const expectSame = async (target: Target, types: NamespaceType[] | "all", extra: ProgramExtra, nsenterExtra: string[]) => {
    const expected = nsenter(target, types, nsenterExtra);
    expect(expected.code).toBe(0);
    const got = await lxnsdRun(target, types, extra);
    expect(got).toEqual(expected);
    return got.stdout;
  };

  it("-a on targets made by root and by uid 65534: uid 0 with every capability inside, in the target's namespaces", async () => {
    const out = await expectSame(byNobody, "all", {}, []);
    expect(out).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(out).toMatch(/CapEff:\s+000001ffffffffff|CapEff:\s+0000003fffffffff/);
    await expectSame(byNobodyUserOnly, "all", {}, []);
    await expectSame(byRoot, "all", {}, []);
  });

  it("-U with others, and -U alone", async () => {
    await expectSame(byNobody, [NamespaceType.USER, NamespaceType.NET], {}, []);
    await expectSame(byNobody, [NamespaceType.USER], {}, []);
    await expectSame(byRoot, [NamespaceType.USER, NamespaceType.UTS, NamespaceType.MNT], {}, []);
  });

  it("uid and gid given (setgroups is deny in these namespaces: the groups are kept, not an EPERM)", async () => {
    expect(execFileSync("cat", [`/proc/${byNobody.pid}/setgroups`], { encoding: "utf8" }).trim()).toBe("deny");
    await expectSame(byNobody, [NamespaceType.USER, NamespaceType.NET], { uid: 0, gid: 0 }, ["-S", "0", "-G", "0"]);
    await expectSame(byRoot, "all", { uid: 0, gid: 0 }, ["-S", "0", "-G", "0"]);
  });

  it("preserve_credentials keeps the daemon's ids as they map inside (unmapped: nobody, no capabilities)", async () => {
    const out = await expectSame(byNobody, [NamespaceType.USER, NamespaceType.NET], { preserveCredentials: true }, ["--preserve-credentials"]);
    expect(out).toMatch(/^uid=65534\(nobody\)/);
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
  });

  it("without a user namespace join, the credentials stay the daemon's (root)", async () => {
    const out = await expectSame(byRoot, [NamespaceType.NET, NamespaceType.UTS], {}, []);
    expect(out).toMatch(/^uid=0\(root\) gid=0\(root\)/);
  });
});
