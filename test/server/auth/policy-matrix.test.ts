import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, Relation, createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { NamespaceRefSchema } from "../../../api/gen/lxnsd/v1/types_pb";
import { makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { reasonOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { childrenOf, mounted } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

// identities (unrestricted, cgroup-restricted, user-namespace-restricted) × methods × reference
// kinds: the exact status and reason of each, and no process started by a refused call.

type Ref = MessageInitShape<typeof NamespaceRefSchema>;
type Who = "unrestricted" | "cgroup" | "userns";
const WHO: Who[] = ["unrestricted", "cgroup", "userns"];
const OK = "OK";
const DENIED = "PERMISSION_DENIED TARGET_FORBIDDEN";
const NOT_YOURS = "PERMISSION_DENIED HANDLE_NOT_YOURS";
const INVALID = "INVALID_ARGUMENT INVALID_ARGUMENT";

describeRoot("policy matrix", () => {
  let daemon: TestDaemon;
  let cgroup: ReturnType<typeof makeCgroup>;
  let pod: Target;
  let container: Target;
  let outside: Target;
  let scratch: string;
  let stateDir: string;
  const clients = {} as Record<Who, LxnsdClient>;
  /** Per identity, its own handles: the container's net, pid and user namespaces. */
  const handles = {} as Record<Who, { net: string; pid: string; user: string }>;
  const suffix = `${process.pid}-${Date.now() % 100000}`;
  const pins = { container: `matrix-container-${suffix}`, host: `matrix-host-${suffix}` };
  let pinCount = 0;

  const pid = (type: NamespaceType, of: () => Target | number, relation = Relation.UNSPECIFIED): (() => Ref) => () => {
    const target = of();
    return { type, relation, source: { case: "pid", value: typeof target === "number" ? target : target.pid } };
  };
  const file = (value: () => string, relation = Relation.UNSPECIFIED): (() => Ref) => () => ({ relation, source: { case: "path", value: value() } });
  const handle = (which: "net" | "pid" | "user", owner: Who | "own", relation = Relation.UNSPECIFIED) => (who: Who): Ref => ({
    relation,
    source: { case: "handle", value: handles[owner === "own" ? who : owner][which] },
  });

  /** Reference kinds of a net-typed (or related) namespace, with the answer each identity gets. */
  const references: { kind: string; ref: (who: Who) => Ref; expect: Record<Who, string> }[] = [
    { kind: "pid: pod (host user ns)", ref: () => pid(NamespaceType.NET, () => pod)(), expect: { unrestricted: OK, cgroup: OK, userns: DENIED } },
    { kind: "pid: container", ref: () => pid(NamespaceType.NET, () => container)(), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "pid: outside", ref: () => pid(NamespaceType.NET, () => outside)(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    { kind: "self", ref: () => ({ type: NamespaceType.NET, source: { case: "self", value: true } }), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    { kind: "path: /proc/container/ns/net", ref: () => file(() => `/proc/${container.pid}/ns/net`)(), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "path: /proc/outside/ns/net", ref: () => file(() => `/proc/${outside.pid}/ns/net`)(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    { kind: "path: a host file", ref: () => file(() => `/proc/${container.pid}/root/etc/passwd`)(), expect: { unrestricted: INVALID, cgroup: INVALID, userns: INVALID } },
    { kind: "handle: its own", ref: handle("net", "own"), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "handle: another identity's", ref: handle("net", "unrestricted"), expect: { unrestricted: OK, cgroup: NOT_YOURS, userns: NOT_YOURS } },
    { kind: "OWNER of the container's net", ref: () => pid(NamespaceType.NET, () => container, Relation.OWNER)(), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "OWNER of the container's user ns (the host's)", ref: () => pid(NamespaceType.USER, () => container, Relation.OWNER)(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    { kind: "PARENT of the container's pid ns (the host's)", ref: () => pid(NamespaceType.PID, () => container, Relation.PARENT)(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    { kind: "PARENT of the pod's pid ns (the host's)", ref: () => pid(NamespaceType.PID, () => pod, Relation.PARENT)(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    // A handle records the process it was made from: its OWNER is allowed under cgroup rules when it is a namespace of that process; PARENT (the host's) is not.
    { kind: "OWNER of its own handle", ref: handle("net", "own", Relation.OWNER), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "PARENT of its own handle", ref: handle("pid", "own", Relation.PARENT), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    // A pin is checked as the process it was made from while that process runs.
    { kind: "pin: the container's net", ref: () => file(() => path.join(stateDir, "ns", pins.container))(), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
    { kind: "pin: the host's net", ref: () => file(() => path.join(stateDir, "ns", pins.host))(), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
  ];

  /** Runs `call` and returns its outcome, with every child this process got meanwhile. */
  async function watched(call: Promise<unknown>): Promise<{ outcome: string; spawned: number[] }> {
    const before = new Set(childrenOf(process.pid).map((child) => child.pid));
    const spawned = new Set<number>();
    const sample = () => childrenOf(process.pid).forEach((child) => !before.has(child.pid) && spawned.add(child.pid));
    const timer = setInterval(sample, 1);
    try {
      const outcome = await reasonOf(call);
      sample();
      return { outcome, spawned: [...spawned] };
    } finally {
      clearInterval(timer);
    }
  }

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-matrix-"));
    stateDir = path.join(scratch, "state");
    for (const dir of ["allowed", "other", "dest"]) mkdirSync(path.join(scratch, dir));
    symlinkSync("../other", path.join(scratch, "allowed", "escape"));
    cgroup = makeCgroup(`lxnsd-matrix-${suffix}`);
    pod = await startTarget(["unshare", "--pid", "--fork", "--net", "--mount", "--propagation", "private"]);
    container = await startTarget(["unshare", "--user", "--map-root-user", "--pid", "--fork", "--net", "--mount"]);
    outside = await startTarget(["unshare", "--net", "--mount", "--propagation", "private"]);
    cgroup.add(pod.pid);
    cgroup.add(container.pid);
    const tokens = { cgroup: newToken(), userns: newToken() };
    const mountSources = [path.join(scratch, "allowed")];
    daemon = await startDaemon({
      stateDir,
      netnsDir: "",
      policyFile: writePolicy({
        identities: [
          { name: "cgroup", scopes: ["read", "exec", "admin"], tokens: [tokenHash(tokens.cgroup)], targets: { "cgroup-prefixes": [cgroup.path] }, "mount-sources": mountSources },
          {
            name: "userns",
            scopes: ["read", "exec", "admin"],
            tokens: [tokenHash(tokens.userns)],
            targets: { "user-namespaces": [`/proc/${container.pid}/ns/user`] },
            "mount-sources": mountSources,
          },
        ],
      }),
    });
    clients.unrestricted = daemon.client;
    clients.cgroup = createClient(daemon.address, { token: tokens.cgroup });
    clients.userns = createClient(daemon.address, { token: tokens.userns });
    for (const who of WHO) {
      const open = async (type: NamespaceType) => (await clients[who].open({ ref: { type, source: { case: "pid", value: container.pid } } })).handle!.id;
      handles[who] = { net: await open(NamespaceType.NET), pid: await open(NamespaceType.PID), user: await open(NamespaceType.USER) };
    }
    await daemon.client.pin({ ref: { type: NamespaceType.NET, source: { case: "pid", value: container.pid } }, name: pins.container });
    await daemon.client.pin({ ref: { type: NamespaceType.NET, source: { case: "self", value: true } }, name: pins.host });
  });

  afterAll(async () => {
    clients.cgroup?.disconnect();
    clients.userns?.disconnect();
    await Promise.all([pod, container, outside].map((target) => target?.kill()));
    await daemon?.stop();
    const nsDir = path.join(stateDir ?? "/nonexistent", "ns");
    if (mounted(nsDir)) execFileSync("umount", ["--recursive", "--lazy", nsDir]);
    cgroup?.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe.each(references)("$kind", ({ ref, expect: expected }) => {
    it.each(WHO)("Inspect, Open and Pin by %s", async (who) => {
      const client = clients[who];
      const inspect = await watched(client.inspect({ ref: ref(who) }));
      expect(inspect).toEqual({ outcome: expected[who], spawned: [] });

      const opened = await reasonOf(
        client.open({ ref: ref(who) }).then(async ({ handle: made }) => {
          await client.close({ handle: made!.id });
        }),
      );
      expect(opened).toBe(expected[who]);

      const name = `matrix-${suffix}-${pinCount++}`;
      const pin = await watched(client.pin({ ref: ref(who), name }));
      expect(pin).toEqual({ outcome: expected[who], spawned: [] });
      expect(existsSync(path.join(stateDir, "ns", name))).toBe(expected[who] === OK);
      if (expected[who] === OK) await client.unpin({ name });
    });
  });

  describe("GetLimit of a user namespace", () => {
    // The host's user namespace named by reference is the daemon's own: read in-process, as GetLimit without
    // user_namespace reads it (a child cannot setns into its own user namespace), and allowed exactly as that is.
    const OWN = OK;
    const cases: { kind: string; ref: (who: Who) => Ref; expect: Record<Who, string> }[] = [
      { kind: "pid: container", ref: () => pid(NamespaceType.USER, () => container)(), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
      { kind: "pid: outside (the host's)", ref: () => pid(NamespaceType.USER, () => outside)(), expect: { unrestricted: OWN, cgroup: DENIED, userns: DENIED } },
      { kind: "OWNER of the container's user ns", ref: () => pid(NamespaceType.USER, () => container, Relation.OWNER)(), expect: { unrestricted: OWN, cgroup: DENIED, userns: DENIED } },
      { kind: "its own handle", ref: handle("user", "own"), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
      { kind: "PARENT of its own handle", ref: handle("user", "own", Relation.PARENT), expect: { unrestricted: OWN, cgroup: DENIED, userns: DENIED } },
    ];
    describe.each(cases)("$kind", ({ ref, expect: expected }) => {
      it.each(WHO)("by %s", async (who) => {
        const answer = await watched(clients[who].getLimit({ type: NamespaceType.NET, userNamespace: ref(who) }));
        expect(answer.outcome).toBe(expected[who]);
        if (expected[who] === DENIED) expect(answer.spawned).toEqual([]);
      });
    });
  });

  describe("BindMount", () => {
    const mntOf = (of: () => Target, relation = Relation.UNSPECIFIED) => pid(NamespaceType.MNT, of, relation);
    const cases: { kind: string; source: () => string; target: () => Ref; expect: Record<Who, string> }[] = [
      { kind: "an allowed source into the pod", source: () => path.join(scratch, "allowed"), target: mntOf(() => pod), expect: { unrestricted: OK, cgroup: OK, userns: DENIED } },
      { kind: "an allowed source into the container", source: () => path.join(scratch, "allowed"), target: mntOf(() => container), expect: { unrestricted: OK, cgroup: OK, userns: OK } },
      { kind: "an allowed source into the outside process", source: () => path.join(scratch, "allowed"), target: mntOf(() => outside), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
      { kind: "a source outside mount-sources", source: () => path.join(scratch, "other"), target: mntOf(() => container), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
      { kind: "a symlink out of mount-sources", source: () => path.join(scratch, "allowed", "escape"), target: mntOf(() => container), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
      { kind: "a source that is not normalized", source: () => `${path.join(scratch, "allowed")}/../other`, target: mntOf(() => container), expect: { unrestricted: INVALID, cgroup: INVALID, userns: INVALID } },
    ];
    describe.each(cases)("$kind", ({ source, target, expect: expected }) => {
      it.each(WHO)("by %s", async (who) => {
        const answer = await watched(clients[who].bindMount({ source: source(), target: target(), targetPath: path.join(scratch, "dest") }));
        expect(answer.outcome).toBe(expected[who]);
        if (expected[who] !== OK) expect(answer.spawned).toEqual([]);
      });
    });
  });

  describe("Run joining every namespace of a target", () => {
    const TYPES = [NamespaceType.USER, NamespaceType.CGROUP, NamespaceType.IPC, NamespaceType.NET, NamespaceType.MNT, NamespaceType.PID, NamespaceType.TIME, NamespaceType.UTS];
    const joins = (of: () => Target, pidRelation = Relation.UNSPECIFIED) => () =>
      TYPES.map((type) => ({ type, relation: type === NamespaceType.PID ? pidRelation : Relation.UNSPECIFIED, source: { case: "pid" as const, value: of().pid } }));
    const cases: { kind: string; join: () => Ref[]; expect: Record<Who, string> }[] = [
      { kind: "the pod", join: joins(() => pod), expect: { unrestricted: OK, cgroup: OK, userns: DENIED } },
      { kind: "the pod, with the PARENT of its pid namespace", join: joins(() => pod, Relation.PARENT), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
      { kind: "the outside process", join: joins(() => outside), expect: { unrestricted: OK, cgroup: DENIED, userns: DENIED } },
    ];
    describe.each(cases)("$kind", ({ join, expect: expected }) => {
      it.each(WHO)("by %s", async (who) => {
        const answer = await watched(clients[who].run({ join: join() as NamespaceRef[], argv: ["true"] }));
        expect(answer.outcome).toBe(expected[who]);
        if (expected[who] !== OK) expect(answer.spawned).toEqual([]);
      });
    });
  });
});
