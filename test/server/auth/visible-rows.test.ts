import { readFileSync, statSync } from "node:fs";
import { NAMESPACE_KINDS, EventKind, NamespaceType, createClient, kindOf } from "../../../client";
import type { LxnsdClient } from "../../../client";
import type { NamespaceSummary } from "../../../api/gen/lxnsd/v1/types_pb";
import { makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { codeOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const tokens = { pods: newToken(), userns: newToken(), all: newToken() };

const keyOf = (summary: NamespaceSummary) => `${kindOf(summary.info!.type)!.name}:${summary.info!.nsId}`;
/** The type:inode of every namespace `pid` is in, from /proc. */
const nsKeys = (pid: number, names = NAMESPACE_KINDS.map((kind) => kind.name)) => new Set(names.map((name) => `${name}:${nsInode(pid, name)}`));
/** lsns's COMMAND of a process: its cmdline, NULs as spaces, the last one dropped. */
const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").slice(0, -1).replace(/\0/g, " ");

async function list(client: LxnsdClient, request = {}): Promise<NamespaceSummary[]> {
  const rows: NamespaceSummary[] = [];
  for await (const row of client.listNamespaces(request)) rows.push(row.summary!);
  return rows;
}

describeRoot("ListNamespaces and WatchNamespaces of a restricted identity", () => {
  let daemon: TestDaemon;
  let cgroup: ReturnType<typeof makeCgroup>;
  let inside: Target;
  let outside: Target;
  let container: Target;
  const extra: Target[] = [];
  let pods: LxnsdClient;
  let userns: LxnsdClient;
  let all: LxnsdClient;

  beforeAll(async () => {
    cgroup = makeCgroup(`lxnsd-visible-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    inside = await startTarget(["unshare", "--net", "--uts"]);
    cgroup.add(inside.pid);
    outside = await startTarget(["unshare", "--net", "--uts"]);
    container = await startTarget(["unshare", "--user", "--map-root-user", "--net", "--uts"]);
    const policy = writePolicy({
      identities: [
        { name: "pods", scopes: ["read"], tokens: [tokenHash(tokens.pods)], targets: { "cgroup-prefixes": [cgroup.path] } },
        { name: "userns", scopes: ["read"], tokens: [tokenHash(tokens.userns)], targets: { "user-namespaces": [`/proc/${container.pid}/ns/user`] } },
        { name: "all", scopes: ["read"], tokens: [tokenHash(tokens.all)] },
      ],
    });
    daemon = await startDaemon({ policyFile: policy });
    pods = createClient(daemon.address, { token: tokens.pods });
    userns = createClient(daemon.address, { token: tokens.userns });
    all = createClient(daemon.address, { token: tokens.all });
  });

  afterAll(async () => {
    for (const client of [pods, userns, all]) client?.disconnect();
    await Promise.all([inside, outside, container, ...extra].map((target) => target?.kill()));
    await daemon?.stop();
    cgroup?.remove();
  });

  it("a cgroup rule shows exactly the namespaces of the processes under it, each with the allowed process's pid, uid and command", async () => {
    const rows = await list(pods);
    expect(new Set(rows.map(keyOf))).toEqual(nsKeys(inside.pid));
    for (const row of rows) {
      expect(row.pid).toBe(inside.pid);
      expect(row.uid).toBe(statSync(`/proc/${inside.pid}`).uid);
      expect(row.command).toBe(commandOf(inside.pid));
      expect(row.processCount).toBe(1);
    }
    // This process's mount namespace is one of them, shown through the process inside only.
    expect(rows.find((row) => keyOf(row) === `mnt:${nsInode("self", "mnt")}`)?.pid).toBe(inside.pid);
    // An unrestricted identity sees the process outside.
    const everything = new Set((await list(all)).map(keyOf));
    expect(everything.has(`net:${nsInode(outside.pid, "net")}`)).toBe(true);
    expect(new Set(rows.map(keyOf)).has(`net:${nsInode(outside.pid, "net")}`)).toBe(false);
  });

  it("a cgroup rule refuses a pid filter naming a process outside, and answers for one inside", async () => {
    expect(await codeOf(list(pods, { pid: outside.pid }))).toBe("PERMISSION_DENIED");
    const rows = await list(pods, { pid: inside.pid, types: [NamespaceType.NET] });
    expect(rows.map((row) => [keyOf(row), row.pid])).toEqual([[`net:${nsInode(inside.pid, "net")}`, inside.pid]]);
  });

  it("a user-namespace rule shows exactly the namespaces owned by that user namespace, and itself", async () => {
    const rows = await list(userns);
    expect(new Set(rows.map(keyOf))).toEqual(nsKeys(container.pid, ["user", "net", "uts"]));
    for (const row of rows) expect(row.pid).toBe(container.pid);
  });

  it("WatchNamespaces shows the same rows, and ADDED only for namespaces a process under the cgroup is in", async () => {
    const controller = new AbortController();
    const stream = pods.watchNamespaces({ interval: { seconds: 0n, nanos: 100_000_000 } }, { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: string[] = [];
    const first = nsKeys(inside.pid);
    try {
      while (seen.length < first.size) {
        const next = await iterator.next();
        expect(next.value.kind).toBe(EventKind.ADDED);
        seen.push(keyOf(next.value.summary));
        expect(next.value.summary.pid).toBe(inside.pid);
      }
      expect(new Set(seen)).toEqual(first);
      const stranger = await startTarget(["unshare", "--net"]);
      extra.push(stranger);
      const newcomer = await startTarget(["unshare", "--net"]);
      extra.push(newcomer);
      cgroup.add(newcomer.pid);
      const wanted = `net:${nsInode(newcomer.pid, "net")}`;
      const events: string[] = [];
      while (!events.includes(`ADDED ${wanted}`)) {
        const next = await iterator.next();
        events.push(`${EventKind[next.value.kind]} ${keyOf(next.value.summary)}`);
      }
      expect(events).not.toContain(`ADDED net:${nsInode(stranger.pid, "net")}`);
    } finally {
      controller.abort();
      await iterator.return?.();
    }
  });
});
