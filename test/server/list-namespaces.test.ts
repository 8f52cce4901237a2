import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { NamespaceType, status } from "../../client";
import type { NamespaceSummary } from "../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS, kindOf } from "../../api/namespace-types";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

const ALL_TYPES = ["--user", "--map-root-user", "--cgroup", "--ipc", "--net", "--mount", "--pid", "--fork", "--time", "--uts"];

interface LsnsRow {
  ns: number;
  type: string;
  nprocs: number;
  pid: number;
  user: string;
  command: string;
  children?: LsnsRow[];
}

const userNames = new Map(
  readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(":"))
    .map((fields) => [Number(fields[2]), fields[0]] as const),
);

/** `lsns --json` keyed by type:ns, with the lsns process itself taken out of the counts of the namespaces it was in. */
async function lsns(): Promise<Map<string, LsnsRow>> {
  const child = execFile("lsns", ["--json", "--output", "NS,TYPE,NPROCS,PID,USER,COMMAND"], { maxBuffer: 64 * 1024 * 1024 });
  const out = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`lsns exited ${code}`))));
  });
  // lsns --json nests rows under the row of their process's parent: flatten.
  const flatten = (list: LsnsRow[]): LsnsRow[] => list.flatMap(({ children, ...row }) => [row, ...flatten(children ?? [])]);
  const rows = flatten((JSON.parse(out) as { namespaces: LsnsRow[] }).namespaces);
  const own = new Set(NAMESPACE_KINDS.map((kind) => `${kind.name}:${nsInode("self", kind.name)}`));
  // lsns ran in this process's namespaces and counted itself there: the daemon's scan could not see it.
  return new Map(rows.map((row) => [`${row.type}:${row.ns}`, { ...row, nprocs: own.has(`${row.type}:${row.ns}`) ? row.nprocs - 1 : row.nprocs }]));
}

/** A summary as the lsns row it should equal (USER as the name lsns prints). */
function asLsns(summary: NamespaceSummary): LsnsRow {
  return {
    ns: Number(summary.info!.nsId),
    type: kindOf(summary.info!.type)!.name,
    nprocs: summary.processCount,
    pid: summary.pid,
    user: userNames.get(summary.uid) ?? String(summary.uid),
    command: summary.command,
  };
}

async function list(lxnsd: TestDaemon, request: { types?: NamespaceType[]; pid?: number } = {}): Promise<NamespaceSummary[]> {
  const rows: NamespaceSummary[] = [];
  for await (const response of lxnsd.client.listNamespaces(request)) rows.push(response.summary!);
  return rows;
}

async function listError(lxnsd: TestDaemon, request: { types?: NamespaceType[]; pid?: number }): Promise<number | undefined> {
  try {
    await list(lxnsd, request);
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

/**
 * Compares ListNamespaces with lsns run right before and after it; rows that
 * differ between the two lsns runs (the host changed meanwhile) are left out.
 * Returns the mismatches, the compared keys and the listing.
 */
async function compareWithLsns(lxnsd: TestDaemon): Promise<{ mismatches: string[]; compared: Set<string>; rows: NamespaceSummary[] }> {
  const before = await lsns();
  const rows = await list(lxnsd);
  const after = await lsns();
  const ours = new Map(rows.map((row) => [`${kindOf(row.info!.type)!.name}:${row.info!.nsId}`, asLsns(row)]));
  const mismatches: string[] = [];
  const compared = new Set<string>();
  for (const [key, row] of before) {
    if (JSON.stringify(after.get(key)) !== JSON.stringify(row)) continue;
    compared.add(key);
    if (JSON.stringify(ours.get(key)) !== JSON.stringify(row)) mismatches.push(`${key}: lsns ${JSON.stringify(row)} lxnsd ${JSON.stringify(ours.get(key))}`);
  }
  for (const [key, row] of ours) {
    if (!before.has(key) && !after.has(key)) mismatches.push(`${key}: only lxnsd ${JSON.stringify(row)}`);
  }
  return { mismatches, compared, rows };
}

describeRoot("ListNamespaces", () => {
  let lxnsd: TestDaemon;
  const targets: Target[] = [];

  beforeAll(async () => {
    lxnsd = await startDaemon();
    targets.push(await startTarget(["unshare", ...ALL_TYPES]));
    targets.push(await startTarget(["unshare", "--net", "--uts"]));
    targets.push(await startTarget(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "unshare", "--user"]));
    targets.push(await startTarget(["unshare", "--pid", "--fork", "--mount-proc", "unshare", "--ipc"]));
  });
  afterAll(async () => {
    await Promise.all(targets.map((target) => target.kill()));
    await lxnsd.stop();
  });

  it("equals lsns --json (NS, TYPE, NPROCS, PID, USER, COMMAND)", async () => {
    let result = await compareWithLsns(lxnsd);
    for (let attempt = 0; attempt < 4 && result.mismatches.length > 0; attempt++) result = await compareWithLsns(lxnsd);
    expect(result.mismatches).toEqual([]);
    // Every namespace of the first target, of all eight types, was compared.
    for (const kind of NAMESPACE_KINDS) expect(result.compared).toContain(`${kind.name}:${nsInode(targets[0].pid, kind.name)}`);
    // And every namespace of the other targets that is their own (not the host's, whose process counts move while the suite runs).
    for (const target of targets.slice(1)) {
      for (const kind of NAMESPACE_KINDS) {
        const ino = nsInode(target.pid, kind.name);
        if (ino !== nsInode("self", kind.name)) expect(result.compared).toContain(`${kind.name}:${ino}`);
      }
    }
  });

  it("fills NamespaceInfo as Inspect does", async () => {
    const rows = await list(lxnsd, { pid: targets[0].pid });
    for (const row of rows) {
      const { info } = await lxnsd.client.inspect({ ref: { type: row.info!.type, source: { case: "pid", value: targets[0].pid } } });
      // Inspect of a pid namespace through a pid reads pid_for_children; the --fork target has the same one.
      expect(row.info).toEqual(info);
    }
    const user = (await list(lxnsd, { pid: targets[2].pid, types: [NamespaceType.USER] }))[0];
    expect(user.info?.ownerUid).toBe(65534);
    expect(user.uid).toBe(65534);
    expect(user.info?.parentNsId).toBe(nsInode("self", "user"));
  });

  it("with a pid lists exactly that process's namespaces", async () => {
    const pid = targets[0].pid;
    const rows = await list(lxnsd, { pid });
    expect(rows.map((row) => `${kindOf(row.info!.type)!.name}:${row.info!.nsId}`).sort()).toEqual(
      NAMESPACE_KINDS.map((kind) => `${kind.name}:${nsInode(pid, kind.name)}`).sort(),
    );
    // The unshare launcher has a lower pid and shares all but the pid and time namespaces of its --fork child.
    for (const row of rows) expect(row.pid).toBe([NamespaceType.PID, NamespaceType.TIME].includes(row.info!.type) ? pid : targets[0].launcher.pid);
  });

  it("with types lists only those types", async () => {
    const rows = await list(lxnsd, { types: [NamespaceType.NET, NamespaceType.UTS] });
    expect(new Set(rows.map((row) => row.info!.type))).toEqual(new Set([NamespaceType.NET, NamespaceType.UTS]));
    expect(rows.map((row) => row.info!.nsId)).toContain(nsInode(targets[1].pid, "net"));
    const both = await list(lxnsd, { types: [NamespaceType.NET], pid: targets[1].pid });
    expect(both.map((row) => row.info!.nsId)).toEqual([nsInode(targets[1].pid, "net")]);
  });

  it("refuses bad filters", async () => {
    expect(await listError(lxnsd, { pid: -1 })).toBe(status.INVALID_ARGUMENT);
    expect(await listError(lxnsd, { types: [NamespaceType.UNSPECIFIED] })).toBe(status.INVALID_ARGUMENT);
    expect(await listError(lxnsd, { types: [42 as NamespaceType] })).toBe(status.INVALID_ARGUMENT);
    expect(await listError(lxnsd, { pid: 0x7ffffff0 })).toBe(status.NOT_FOUND);
  });

  it("does not fail while processes and namespaces come and go", async () => {
    const churn = spawn("sh", ["-c", "for i in $(seq 200); do true & unshare --net --uts true & done; wait"], { stdio: "ignore" });
    const exited = new Promise((resolve) => churn.once("exit", resolve));
    try {
      for (let i = 0; i < 20; i++) expect((await list(lxnsd)).length).toBeGreaterThan(8);
    } finally {
      await exited;
    }
  });
});
