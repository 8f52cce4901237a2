import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LxnsdError, NAMESPACE_KINDS, NamespaceType, Relation, createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { codeOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const tokens = { pods: newToken(), userns: newToken(), usernsAdmin: newToken() };

const ref = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });

describeRoot("target rules", () => {
  let daemon: TestDaemon;
  let inside: Target;
  let outside: Target;
  let container: Target;
  let cgroup: ReturnType<typeof makeCgroup>;
  let scratch: string;
  let pods: LxnsdClient;
  let userns: LxnsdClient;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-targets-"));
    cgroup = makeCgroup(`lxnsd-test-${process.pid}`);
    inside = await startTarget(["unshare", "--net", "--uts", "--ipc", "--mount"]);
    cgroup.add(inside.pid);
    outside = await startTarget(["unshare", "--net"]);
    container = await startTarget(["unshare", "--user", "--map-root-user", "--net", "--uts"]);
    const policy = writePolicy({
      identities: [
        { name: "pods", scopes: ["read", "exec", "admin"], tokens: [tokenHash(tokens.pods)], targets: { "cgroup-prefixes": [cgroup.path] } },
        { name: "userns", scopes: ["read", "exec"], tokens: [tokenHash(tokens.userns)], targets: { "user-namespaces": [`/proc/${container.pid}/ns/user`] } },
        { name: "userns-admin", scopes: ["read", "admin"], tokens: [tokenHash(tokens.usernsAdmin)], targets: { "user-namespaces": [`/proc/${container.pid}/ns/user`] } },
      ],
    });
    daemon = await startDaemon({ policyFile: policy });
    pods = createClient(daemon.address, { token: tokens.pods });
    userns = createClient(daemon.address, { token: tokens.userns });
  });

  afterAll(async () => {
    pods?.disconnect();
    userns?.disconnect();
    await Promise.all([inside, outside, container].map((target) => target?.kill()));
    await daemon?.stop();
    cgroup?.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a cgroup rule allows processes under the prefix and refuses the rest", async () => {
    expect(readFileSync(`/proc/${inside.pid}/cgroup`, "utf8")).toContain(`0::${cgroup.path}\n`);
    expect((await pods.inspect({ ref: ref(NamespaceType.NET, inside.pid) })).info!.nsId).toBe(nsInode(inside.pid, "net"));
    const path_ = { ref: { source: { case: "path" as const, value: `/proc/${inside.pid}/ns/uts` } } };
    expect((await pods.inspect(path_)).info!.nsId).toBe(nsInode(inside.pid, "uts"));
    const refused = await pods.inspect({ ref: ref(NamespaceType.NET, outside.pid) }).catch((e: unknown) => e);
    expect((refused as LxnsdError).codeName).toBe("PERMISSION_DENIED");
    expect((refused as LxnsdError).reason).toBe("TARGET_FORBIDDEN");
    expect(await codeOf(pods.inspect({ ref: { type: NamespaceType.NET, source: { case: "self", value: true } } }))).toBe("PERMISSION_DENIED");
    expect(await codeOf(pods.open({ ref: ref(NamespaceType.NET, outside.pid) }))).toBe("PERMISSION_DENIED");
  });

  it("a program runs in all of its target's namespaces: the types it does not join come from the target, not the daemon; with no target nothing runs", async () => {
    const marker = path.join(scratch, "ran");
    const none = await pods.run({ argv: ["/usr/bin/touch", marker] }).catch((e: unknown) => e);
    expect((none as LxnsdError).codeName).toBe("PERMISSION_DENIED");
    expect((none as LxnsdError).reason).toBe("TARGET_FORBIDDEN");
    expect(existsSync(marker)).toBe(false);
    const script = "for n in net uts ipc mnt; do readlink /proc/self/ns/$n; done";
    const partial = await pods.run({ join: [ref(NamespaceType.NET, inside.pid)], argv: ["/bin/sh", "-c", script] });
    const expected = ["net", "uts", "ipc", "mnt"].map((name) => `${name}:[${nsInode(inside.pid, name)}]`);
    expect(partial.stdout.toString().trim().split("\n")).toEqual(expected);
    const join = NAMESPACE_KINDS.map((kind) => ref(kind.type, inside.pid));
    const whole = await pods.run({ join, argv: ["/bin/sh", "-c", "readlink /proc/self/ns/net; hostname"] });
    expect(whole.exit).toEqual({ code: 0 });
    expect(whole.stdout.toString().split("\n")[0]).toBe(`net:[${nsInode(inside.pid, "net")}]`);
  });

  it("a user-namespace rule allows the namespaces that user namespace owns, and itself", async () => {
    expect((await userns.inspect({ ref: ref(NamespaceType.NET, container.pid) })).info!.nsId).toBe(nsInode(container.pid, "net"));
    expect((await userns.inspect({ ref: ref(NamespaceType.USER, container.pid) })).info!.nsId).toBe(nsInode(container.pid, "user"));
    expect(await codeOf(userns.inspect({ ref: ref(NamespaceType.NET, outside.pid) }))).toBe("PERMISSION_DENIED");
    // the container's mount namespace is the host's here: owned by the initial user namespace
    expect(await codeOf(userns.inspect({ ref: ref(NamespaceType.MNT, container.pid) }))).toBe("PERMISSION_DENIED");
  });

  it("a handle does not lead past the rule: its owner or parent namespace is checked like any other", async () => {
    const admin = createClient(daemon.address, { token: tokens.usernsAdmin });
    try {
      const user = (await admin.open({ ref: ref(NamespaceType.USER, container.pid) })).handle!.id;
      const net = (await admin.open({ ref: ref(NamespaceType.NET, container.pid) })).handle!.id;
      const viaHandle = (id: string, relation: Relation) => admin.inspect({ ref: { relation, source: { case: "handle", value: id } } });
      expect((await viaHandle(net, Relation.UNSPECIFIED)).info!.nsId).toBe(nsInode(container.pid, "net"));
      expect((await viaHandle(net, Relation.OWNER)).info!.nsId).toBe(nsInode(container.pid, "user"));
      // The container's user namespace's parent is the host's initial one.
      expect(await codeOf(viaHandle(user, Relation.PARENT))).toBe("PERMISSION_DENIED");
      expect(await codeOf(viaHandle(user, Relation.OWNER))).toBe("PERMISSION_DENIED");
      for (const id of [user, net]) await admin.close({ handle: id });
    } finally {
      admin.disconnect();
    }
  });
});
