import { readFileSync, readdirSync } from "node:fs";
import { EventKind, NamespaceType, createClient, status } from "../../client";
import * as native from "../../native/lib";
import type { LxnsdClient } from "../../client";
import type { NamespaceSummary } from "../../api/gen/lxnsd/v1/types_pb";
import { cgroup2Mount, makeCgroup } from "../helpers/cgroup";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { MM_LOCK_HANG_COMM, mmLockHangMissing, readBlocks, startMmLockHang } from "../helpers/mm-lock-hang";
import type { MmLockHang } from "../helpers/mm-lock-hang";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
import { describeRoot } from "../helpers/privileged";
import { nsInode, processState, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import { itUnless } from "../helpers/visible-skip";

const missing = mmLockHangMissing();
const token = newToken();
/** A deadline no call stuck behind the process's mmap lock could meet (it never comes free), generous for a busy machine. */
const prompt = { timeoutMs: 10_000 };

async function list(client: LxnsdClient): Promise<NamespaceSummary[]> {
  const rows: NamespaceSummary[] = [];
  for await (const row of client.listNamespaces({}, prompt)) rows.push(row.summary!);
  return rows;
}

/** The row of `pid`'s mount namespace. */
const mountRow = (rows: NamespaceSummary[], pid: number) => rows.find((row) => row.info?.type === NamespaceType.MNT && row.info.nsId === nsInode(pid, "mnt"));

/** lsns's COMMAND of a process: its cmdline, NULs as spaces, the last one dropped. */
const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").slice(0, -1).replace(/\0/g, " ");

describeRoot("a process whose mmap lock never comes free cannot hang the /proc scan (ListNamespaces, WatchNamespaces)", () => {
  let lxnsd: TestDaemon;
  let hang: MmLockHang | undefined;
  let cgroup: ReturnType<typeof makeCgroup>;
  let pods: LxnsdClient;

  beforeAll(async () => {
    cgroup = makeCgroup(`lxnsd-hungcmd-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    const policy = writePolicy({
      identities: [
        { name: "pods", scopes: ["read"], tokens: [tokenHash(token)], targets: { "cgroup-prefixes": [cgroup.path] } },
        { name: "root", scopes: ["read"], "unix-uids": [0] },
      ],
    });
    lxnsd = await startDaemon({ policyFile: policy });
    pods = createClient(lxnsd.address, { token });
    // In the cgroup the restricted identity may see: its rows are made from this process's own /proc files.
    if (!missing) hang = await startMmLockHang(120, `${cgroup2Mount()}${cgroup.path}/cgroup.procs`);
  });
  afterAll(async () => {
    pods?.disconnect();
    await hang?.release();
    await lxnsd?.stop();
    cgroup?.remove();
  });

  itUnless(!missing, missing ?? "")("the trap holds: reading the process's cmdline blocks (ps would hang), its comm does not", async () => {
    expect(await readBlocks(`/proc/${hang!.pid}/cmdline`, 1000)).toBe(true);
    expect(await readBlocks(`/proc/${hang!.pid}/comm`, 1000)).toBe(false);
  });

  itUnless(!missing, missing ?? "")("ListNamespaces answers, with comm as that process's COMMAND, again and again; other calls are served meanwhile", async () => {
    for (let i = 0; i < 3; i++) {
      const row = mountRow(await list(lxnsd.client), hang!.pid);
      expect(row?.pid).toBe(hang!.pid);
      expect(row?.command).toBe(MM_LOCK_HANG_COMM);
    }
    // One thread waits in its cmdline read; later scans went straight to comm. (A read of another process
    // slowed past the bound by a busy machine would count too, but only until it returns.)
    await waitFor(() => native.stuckCommandReads() === 1, 5000, "one stuck read");
    expect((await lxnsd.daemon.metrics.registry.getSingleMetric("lxnsd_stuck_command_reads")!.get()).values[0].value).toBe(1);
    expect(await lxnsd.client.checkHealth("", prompt)).toBe("SERVING");
    const ref = { type: NamespaceType.MNT, source: { case: "pid" as const, value: hang!.pid } };
    expect((await lxnsd.client.inspect({ ref }, prompt)).info?.nsId).toBe(nsInode(hang!.pid, "mnt"));
  }, 60_000);

  itUnless(!missing, missing ?? "")("a restricted identity whose cgroup holds the process gets its rows, with comm as its COMMAND", async () => {
    const rows = await list(pods);
    const row = mountRow(rows, hang!.pid);
    expect(row?.pid).toBe(hang!.pid);
    expect(row?.command).toBe(MM_LOCK_HANG_COMM);
    await waitFor(() => native.stuckCommandReads() === 1, 5000, "one stuck read");
  }, 60_000);

  itUnless(!missing, missing ?? "")("WatchNamespaces gives its first batch, the process's mount namespace in it", async () => {
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), prompt.timeoutMs);
    let added: NamespaceSummary | undefined;
    try {
      for await (const event of lxnsd.client.watchNamespaces({ types: [NamespaceType.MNT] }, { signal: controller.signal })) {
        if (event.kind === EventKind.ADDED && event.summary?.info?.nsId === nsInode(hang!.pid, "mnt")) added = event.summary;
        if (added) break;
      }
    } catch (err) {
      if ((err as { code?: number }).code !== status.CANCELLED) throw err;
    } finally {
      clearTimeout(deadline);
    }
    expect(added?.command).toBe(MM_LOCK_HANG_COMM);
  }, 60_000);

  itUnless(!missing, missing ?? "")("at most 8 reads are left stuck: past that every COMMAND is comm, and the scan still answers", async () => {
    const more: MmLockHang[] = [];
    const normal = await startTarget(["unshare", "--uts"]);
    try {
      for (let i = 0; i < 8; i++) more.push(await startMmLockHang(120));
      // Nine stuck processes: the first scan parks a thread on each of the 7 new ones it tries (8 with the
      // first process's). Another scan is made should a read slowed by a busy machine have taken a place meanwhile.
      let rows = await list(lxnsd.client);
      for (let i = 0; i < 10 && native.stuckCommandReads() < 8; i++) rows = await list(lxnsd.client);
      expect(native.stuckCommandReads()).toBe(8);
      for (const stuck of [hang!, ...more]) expect(mountRow(rows, stuck.pid)?.command).toBe(MM_LOCK_HANG_COMM);
      // At the cap, no cmdline is read at all: the normal process shows its comm (sleep), not `sleep 1000`.
      const utsRow = (list: NamespaceSummary[]) => list.find((row) => row.info?.type === NamespaceType.UTS && row.info.nsId === nsInode(normal.pid, "uts"));
      rows = await list(lxnsd.client);
      expect(utsRow(rows)?.command).toBe("sleep");
      for (const stuck of [hang!, ...more]) expect(mountRow(rows, stuck.pid)?.command).toBe(MM_LOCK_HANG_COMM);
      expect(native.stuckCommandReads()).toBe(8);
      expect(await lxnsd.client.checkHealth("", prompt)).toBe("SERVING");
      // Their locks come free: their readers return, and cmdlines are read again.
      await Promise.all(more.map((stuck) => stuck.release()));
      await waitFor(() => native.stuckCommandReads() === 1, 5000, "the released readers to return");
      expect(await commandEventually(lxnsd.client, (rows) => utsRow(rows), commandOf(normal.pid))).toBe(commandOf(normal.pid));
    } finally {
      await Promise.all(more.map((stuck) => stuck.release()));
      await normal.kill();
    }
  }, 60_000);

  itUnless(!missing, missing ?? "")("once the lock comes free (the FUSE connection aborted), the scan gives the process's cmdline again", async () => {
    process.kill(hang!.serverPid, "SIGKILL");
    await waitFor(() => !hangs(hang!.pid), 5000, "the lock to come free");
    const expected = commandOf(hang!.pid);
    expect(await commandEventually(lxnsd.client, (rows) => mountRow(rows, hang!.pid), expected)).toBe(expected);
    await waitFor(() => native.stuckCommandReads() === 0, 5000, "the stuck reader to return");
  }, 60_000);
});

/** The COMMAND of the row `pick` finds, once it is `expected` (a scan or two may still show comm: a parked reader returns a moment after the lock comes free); after 5 s, what it is then. */
async function commandEventually(client: LxnsdClient, pick: (rows: NamespaceSummary[]) => NamespaceSummary | undefined, expected: string): Promise<string | undefined> {
  let command: string | undefined;
  for (let i = 0; i < 50 && command !== expected; i++) {
    command = pick(await list(client))?.command;
    if (command !== expected) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return command;
}

/** Whether a thread of the process sleeps uninterruptibly (D): its writer waiting for the lock. */
function hangs(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => processState(Number(tid)) === "D");
  } catch {
    return false;
  }
}
