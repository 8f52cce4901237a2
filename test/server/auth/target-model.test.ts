// Issue 11, "creating namespaces escapes every target rule": an identity
// with target rules runs, and creates namespaces, only as its target
// process could (as runc exec into it). Each attack here read a root-only
// host file before the fix.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LxnsdError, NAMESPACE_KINDS, NamespaceType, Relation, createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { cgroup2Mount, makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { codeOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { countFds, nsInode, readOrNull, waitFor } from "../../helpers/proc";
import * as native from "../../../native/lib";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const tokens = { pods: newToken(), admin: newToken() };
const ALL = NAMESPACE_KINDS.map((kind) => kind.type);
const NS_NAMES = ["user", "cgroup", "ipc", "net", "mnt", "pid", "time", "uts"];
const ref = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });
const handleRef = (id: string) => ({ source: { case: "handle" as const, value: id } });

/** The credential lines of a /proc status text. */
function credentials(status: string): string[] {
  return status.split("\n").filter((line) => /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):/.test(line));
}

async function denied(promise: Promise<unknown>): Promise<{ code?: string; reason?: string }> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  return { code: (err as LxnsdError | undefined)?.codeName, reason: (err as LxnsdError | undefined)?.reason };
}

describeRoot("target model (issue 11): a restricted identity acts as its target process", () => {
  let daemon: TestDaemon;
  let cgroup: ReturnType<typeof makeCgroup>;
  let scratch: string;
  let secretFile: string;
  let secret: string;
  /** A pod: root in the host's user namespace, in mount, net, uts, ipc namespaces of its own, where the scratch dir is hidden. */
  let pod: Target;
  /** uid 65534, no capabilities, no_new_privs, its own pid namespace too. */
  let nobody: Target;
  /** Root of a user namespace of its own. */
  let container: Target;
  let pods: LxnsdClient;
  let admin: LxnsdClient;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-target-model-"));
    secret = randomBytes(16).toString("hex");
    secretFile = path.join(scratch, "secret");
    writeFileSync(secretFile, secret, { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    cgroup = makeCgroup(`allowed-${randomBytes(4).toString("hex")}`);
    pod = await startTarget(["unshare", "--net", "--uts", "--ipc", "--mount", "sh", "-c", `mount -t tmpfs none ${scratch} && exec "$@"`, "sh"]);
    nobody = await startTarget(["unshare", "--net", "--uts", "--ipc", "--mount", "--pid", "--fork", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--bounding-set=-all", "--no-new-privs"]);
    container = await startTarget(["unshare", "--user", "--map-root-user", "--net", "--uts"]);
    for (const target of [pod, nobody, container]) cgroup.add(target.pid);
    const policy = writePolicy({
      identities: [
        { name: "pods", scopes: ["read", "exec", "admin"], tokens: [tokenHash(tokens.pods)], targets: { "cgroup-prefixes": [cgroup.path] } },
        { name: "admin", scopes: ["read", "exec", "admin"], tokens: [tokenHash(tokens.admin)] },
      ],
    });
    daemon = await startDaemon({ policyFile: policy });
    pods = createClient(daemon.address, { token: tokens.pods });
    admin = createClient(daemon.address, { token: tokens.admin });
  });

  afterAll(async () => {
    pods?.disconnect();
    admin?.disconnect();
    await Promise.all([pod, nobody, container].map((target) => target?.kill()));
    await daemon?.stop();
    cgroup?.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("attack 1: Run with all 8 types unshared and map_root, joining nothing, is refused and runs nothing", async () => {
    const marker = path.join(scratch, `ran-${randomBytes(4).toString("hex")}`);
    const outcome = await denied(pods.run({ unshare: ALL, unshareOptions: { mapRoot: true }, argv: ["/bin/sh", "-c", `cat ${secretFile}; touch ${marker}`] }));
    expect(outcome).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
    expect(existsSync(marker)).toBe(false);
  });

  it("attack 2: Run joining a pod's user and net and unsharing the rest sees the pod's files, not the host's", async () => {
    const unshare = ALL.filter((type) => type !== NamespaceType.USER && type !== NamespaceType.NET);
    const join = [ref(NamespaceType.USER, pod.pid), ref(NamespaceType.NET, pod.pid)];
    const result = await pods.run({ join, unshare, argv: ["/bin/sh", "-c", `cat ${secretFile}; ls ${scratch}; echo done`] });
    expect(result.stdout.toString()).not.toContain(secret);
    expect(result.stdout.toString()).not.toContain("secret");
    expect(result.stdout.toString()).toContain("done");
    // the same for a target with no capabilities: it may not create a mount namespace at all
    const weak = await pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], unshare, argv: ["/bin/cat", secretFile] }).catch((e: unknown) => e);
    if (!(weak instanceof LxnsdError)) expect((weak as { stdout: Buffer }).stdout.toString()).not.toContain(secret);
  });

  it("attack 3: Unshare needs a target; the namespaces it makes start from the target, and a Run joining them stays confined", async () => {
    expect(await denied(pods.unshare({ types: ALL }))).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
    const made = await pods.unshare({ types: ALL, target: { source: { case: "pid", value: pod.pid } } });
    const ids = made.handles.map((handle) => handle.id);
    try {
      const result = await pods.run({ join: ids.map(handleRef), argv: ["/bin/sh", "-c", `cat ${secretFile}; ls ${scratch}; echo done`] });
      expect(result.stdout.toString()).not.toContain(secret);
      expect(result.stdout.toString()).not.toContain("secret");
      expect(result.stdout.toString()).toContain("done");
    } finally {
      for (const id of ids) await pods.close({ handle: id });
    }
  });

  it("a program of a restricted identity runs with its target's ids, groups, capabilities, no_new_privs, cgroups and namespaces", async () => {
    const script = "cat /proc/self/status; echo ---; cat /proc/self/cgroup; echo ---; for n in user cgroup ipc net mnt pid time uts; do readlink /proc/self/ns/$n; done";
    for (const target of [pod, nobody]) {
      const result = await pods.run({ join: [ref(NamespaceType.NET, target.pid)], argv: ["/bin/sh", "-c", script] });
      expect(result.stderr.toString()).toBe("");
      expect(result.exit).toEqual({ code: 0 });
      const [status, cgroups, links] = result.stdout.toString().split("---\n");
      expect(credentials(status)).toEqual(credentials(readFileSync(`/proc/${target.pid}/status`, "utf8")));
      // Every v1 hierarchy the target's; in v2 a cgroup of its own right below the target's (its limits count, cgroup.kill ends the program alone).
      const theirs = readFileSync(`/proc/${target.pid}/cgroup`, "utf8").split("\n");
      const v2 = theirs.find((line) => line.startsWith("0::"))!;
      expect(cgroups.split("\n").map((line) => (line.startsWith("0::") ? line.replace(/\/program-\d+-\d+$/, "") : line))).toEqual(theirs);
      expect(cgroups).toMatch(new RegExp(`^${v2.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/program-\\d+-\\d+$`, "m"));
      expect(links.trim().split("\n")).toEqual(NS_NAMES.map((name) => `${name}:[${nsInode(target.pid, name)}]`));
    }
    const weak = await pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], argv: ["/bin/sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"] });
    expect(weak.stdout.toString().split("\n").map((line) => line.replace(/\s+/g, " "))).toEqual(["65534", "CapEff: 0000000000000000", "NoNewPrivs: 1", ""]);
  });

  it("a restricted identity's program cgroup (below its target's) is removed once the program ended: never kept for the next program", async () => {
    const cgroupOf = async () => {
      const result = await pods.run({ join: [ref(NamespaceType.NET, pod.pid)], argv: ["/bin/sh", "-c", "cat /proc/self/cgroup"] });
      expect(result.exit).toEqual({ code: 0 });
      return path.join(cgroup2Mount(), result.stdout.toString().match(/^0::(.*)$/m)![1]);
    };
    const first = await cgroupOf();
    expect(existsSync(first)).toBe(false);
    expect(await cgroupOf()).not.toBe(first);
  });

  it("a pin or handle made from a process counts as that process: a Run joining it runs as the target, an Unshare can name it", async () => {
    const name = `tm-${randomBytes(4).toString("hex")}`;
    const { path: pinPath } = await pods.pin({ ref: ref(NamespaceType.NET, pod.pid), name });
    const handle = (await pods.open({ ref: ref(NamespaceType.UTS, nobody.pid) })).handle!.id;
    try {
      const viaPin = await pods.run({ join: [{ source: { case: "path", value: pinPath } }], argv: ["/bin/sh", "-c", "readlink /proc/self/ns/mnt /proc/self/ns/net"] });
      expect(viaPin.stdout.toString()).toBe(`mnt:[${nsInode(pod.pid, "mnt")}]\nnet:[${nsInode(pod.pid, "net")}]\n`);
      const viaHandle = await pods.run({ join: [handleRef(handle)], argv: ["/bin/sh", "-c", "id -u; readlink /proc/self/ns/net"] });
      expect(viaHandle.stdout.toString()).toBe(`65534\nnet:[${nsInode(nobody.pid, "net")}]\n`);
      const mixed = pods.run({ join: [{ source: { case: "path", value: pinPath } }, handleRef(handle)], argv: ["/bin/true"] });
      expect(await codeOf(mixed)).toBe("INVALID_ARGUMENT");
      const made = await pods.unshare({ types: [NamespaceType.IPC], target: { source: { case: "path", value: pinPath } } });
      const owner = await pods.inspect({ ref: { relation: Relation.OWNER, source: { case: "handle", value: made.handles[0].id } } });
      expect(owner.info!.nsId).toBe(nsInode(pod.pid, "user"));
      await pods.close({ handle: made.handles[0].id });
    } finally {
      await pods.close({ handle });
      await pods.unpin({ name });
    }
  });

  it("a handle whose process is gone names no target: PERMISSION_DENIED for Run and Unshare", async () => {
    const brief = await startTarget(["unshare", "--net"]);
    cgroup.add(brief.pid);
    const handle = (await pods.open({ ref: ref(NamespaceType.NET, brief.pid) })).handle!.id;
    try {
      await brief.kill();
      await waitFor(() => readOrNull(`/proc/${brief.pid}/stat`) === null, 3000, "the target reaped");
      expect(await denied(pods.run({ join: [handleRef(handle)], argv: ["/bin/true"] }))).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
      expect(await denied(pods.unshare({ types: [NamespaceType.UTS], target: handleRef(handle) }))).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
    } finally {
      await pods.close({ handle });
    }
  });

  it("uid and gid only where the target could switch itself", async () => {
    expect(await denied(pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], uid: 0, argv: ["/bin/true"] }))).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
    const switched = await pods.run({ join: [ref(NamespaceType.NET, pod.pid)], uid: 1234, gid: 1234, argv: ["/bin/sh", "-c", "id -u; id -g"] });
    expect(switched.stdout.toString()).toBe("1234\n1234\n");
  });

  it("joins that name two processes are INVALID_ARGUMENT", async () => {
    const join = [ref(NamespaceType.NET, pod.pid), ref(NamespaceType.UTS, nobody.pid)];
    expect(await codeOf(pods.run({ join, argv: ["/bin/true"] }))).toBe("INVALID_ARGUMENT");
  });

  it("Unshare with a target: the new namespaces are owned by the target's user namespace, and map_root maps the target's uid", async () => {
    const inContainer = await pods.unshare({ types: [NamespaceType.NET], target: { source: { case: "pid", value: container.pid } } });
    const net = inContainer.handles[0].id;
    try {
      const owner = await pods.inspect({ ref: { relation: Relation.OWNER, source: { case: "handle", value: net } } });
      expect(owner.info!.nsId).toBe(nsInode(container.pid, "user"));
    } finally {
      await pods.close({ handle: net });
    }
    const mapped = await pods.unshare({ types: [NamespaceType.USER, NamespaceType.NET], options: { mapRoot: true }, target: { source: { case: "path", value: `/proc/${nobody.pid}/ns/net` } } });
    const ids = mapped.handles.map((handle) => handle.id);
    try {
      const user = await pods.inspect({ ref: { source: { case: "handle", value: ids[0] } } });
      expect(user.info!.ownerUid).toBe(65534);
      const maps = await pods.run({ join: ids.map(handleRef), argv: ["/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"] });
      expect(maps.stdout.toString().trim().split("\n").map((line) => line.trim().split(/\s+/).join(" "))).toEqual(["0 65534 1", "0 65534 1", "0"]);
      // anything wider than the target's own ids is refused
      const wide = pods.unshare({ types: [NamespaceType.USER], options: { uidMap: [{ insideId: 0, outsideId: 0, length: 1 }], gidMap: [{ insideId: 0, outsideId: 0, length: 1 }] }, target: { source: { case: "pid", value: nobody.pid } } });
      expect(await denied(wide)).toEqual({ code: "PERMISSION_DENIED", reason: "TARGET_FORBIDDEN" });
    } finally {
      for (const id of ids) await pods.close({ handle: id });
    }
  });

  it("clock offsets of a time namespace made from a target are written (through the daemon's /proc), and a Run joining it sees them", async () => {
    const made = await pods.unshare({ types: [NamespaceType.TIME], options: { boottimeOffset: { seconds: 86400n } }, target: { source: { case: "pid", value: pod.pid } } });
    const id = made.handles[0].id;
    try {
      const result = await pods.run({ join: [handleRef(id)], argv: ["/bin/cat", "/proc/uptime"] });
      const host = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
      expect(Number(result.stdout.toString().split(" ")[0])).toBeGreaterThan(host + 86000);
    } finally {
      await pods.close({ handle: id });
    }
  });

  it("no fd or process outlives a restricted request, refused or not", async () => {
    await pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], argv: ["/bin/true"] }); // warm the connection
    const before = countFds();
    await pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], argv: ["/bin/true"] });
    await codeOf(pods.run({ join: [ref(NamespaceType.NET, pod.pid), ref(NamespaceType.UTS, nobody.pid)], argv: ["/bin/true"] }));
    await codeOf(pods.run({ join: [ref(NamespaceType.NET, nobody.pid)], uid: 0, argv: ["/bin/true"] }));
    await codeOf(pods.unshare({ types: [NamespaceType.USER], options: { uidMap: [{ insideId: 0, outsideId: 0, length: 2 }] }, target: { source: { case: "pid", value: nobody.pid } } }));
    const made = await pods.unshare({ types: [NamespaceType.NET], target: { source: { case: "pid", value: pod.pid } } });
    await pods.close({ handle: made.handles[0].id });
    await waitFor(() => native.runningChildren() === 0 && countFds() === before, 3000, "fds and children back to the baseline");
  });

  it("an unrestricted identity may still Unshare without a target, and with one", async () => {
    const plain = await admin.unshare({ types: [NamespaceType.NET] });
    await admin.close({ handle: plain.handles[0].id });
    const from = await admin.unshare({ types: [NamespaceType.UTS], target: { source: { case: "pid", value: nobody.pid } } }).catch((e: unknown) => e);
    // nobody has no CAP_SYS_ADMIN: it could not create a uts namespace, so neither can a request started from it
    expect((from as LxnsdError).codeName).toBe("PERMISSION_DENIED");
    const fromPod = await admin.unshare({ types: [NamespaceType.UTS], target: { source: { case: "pid", value: pod.pid } } });
    await admin.close({ handle: fromPod.handles[0].id });
  });
});
