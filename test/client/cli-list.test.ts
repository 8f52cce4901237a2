import { create } from "@bufbuild/protobuf";
import { EventKind, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { NamespaceSummarySchema } from "../../api/gen/lxnsd/v1/types_pb";
import type { LxnsdClient } from "../../client";
import { run } from "../../client/cli/main";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";

const SUMMARY = create(NamespaceSummarySchema, {
  info: { type: NamespaceType.NET, nsId: 4026532000n, device: 4n },
  processCount: 3,
  pid: 42,
  uid: 0,
  command: "sleep 1000",
});

/** A client whose streams answer with SUMMARY and record the request. */
function fake() {
  const requests: { method: string; request: unknown }[] = [];
  const client = {
    listNamespaces: async function* (request: unknown) {
      requests.push({ method: "listNamespaces", request });
      yield { summary: SUMMARY };
    },
    watchNamespaces: async function* (request: unknown) {
      requests.push({ method: "watchNamespaces", request });
      yield { kind: EventKind.ADDED, summary: SUMMARY };
      yield { kind: EventKind.REMOVED, summary: SUMMARY };
    },
    disconnect: () => undefined,
  } as unknown as LxnsdClient;
  return { client, requests };
}

async function cli(argv: string[], client: LxnsdClient, onSignal?: (listener: (signal: NodeJS.Signals) => void) => () => void) {
  return captureCli(argv, { ...(client ? { connect: () => client } : {}), onSignal });
}

describe("lxnsctl ls / watch: flags → request", () => {
  it.each([
    [["ls"], { types: [], pid: 0 }],
    [["ls", "-t", "net", "--type", "uts"], { types: [NamespaceType.NET, NamespaceType.UTS], pid: 0 }],
    [["ls", "-p", "1234", "-t", "mnt"], { types: [NamespaceType.MNT], pid: 1234 }],
  ])("%j", async (argv, request) => {
    const f = fake();
    const result = await cli(argv, f.client);
    expect(result.code).toBe(0);
    expect(f.requests).toEqual([{ method: "listNamespaces", request }]);
    expect(result.stdout).toMatch(/^NS\s+TYPE\s+NPROCS\s+PID\s+UID\s+CONTAINER\s+POD\s+COMMAND\n4026532000\s+net\s+3\s+42\s+0\s+-\s+-\s+sleep 1000\n$/);
  });

  it("ls --json prints one document of summaries", async () => {
    const result = await cli(["ls", "--json"], fake().client);
    expect(JSON.parse(result.stdout).namespaces[0]).toMatchObject({ pid: 42, command: "sleep 1000", info: { nsId: "4026532000" } });
  });

  it.each([[["ls", "-p", "0"]], [["ls", "-t", "bogus"]], [["watch", "--interval", "x"]]])("%j is a usage error", async (argv) => {
    expect((await cli(argv, fake().client)).code).toBe(2);
  });

  it("watch -t net --interval 0.5 prints ADDED/REMOVED lines", async () => {
    const f = fake();
    const result = await cli(["watch", "-t", "net", "--interval", "0.5"], f.client);
    expect(f.requests).toEqual([{ method: "watchNamespaces", request: { types: [NamespaceType.NET], interval: expect.objectContaining({ seconds: 0n, nanos: 500_000_000 }) } }]);
    expect(result.stdout).toBe("ADDED 4026532000 net 42 sleep 1000\nREMOVED 4026532000 net 42 sleep 1000\n");
  });
});

describeRoot("lxnsctl ls / watch against a daemon", () => {
  let lxnsd: TestDaemon;
  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(async () => {
    await lxnsd.stop();
  });

  it("ls -p PID -t net shows the target's net namespace", async () => {
    const target = await startTarget(["unshare", "--net"]);
    try {
      const result = await cli(["--address", lxnsd.address, "ls", "-p", String(target.pid), "-t", "net"], undefined as unknown as LxnsdClient);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${nsInode(target.pid, "net")}\\s+net\\s+1\\s+${target.pid}\\s+0\\s+-\\s+-\\s+sleep 1000$`, "m"));
    } finally {
      await target.kill();
    }
  });

  it("watch prints ADDED for a new namespace and ends with status 0 on an interrupt", async () => {
    let stdout = "";
    let interrupt: (signal: NodeJS.Signals) => void = () => {};
    const done = run(["--address", lxnsd.address, "watch", "-t", "net", "--interval", "0.2"], {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stdout += text),
      onSignal: (listener) => ((interrupt = listener), () => undefined),
    });
    await waitFor(() => stdout.includes(`ADDED ${nsInode("self", "net")} net`), 3000, "the initial set");
    const target = await startTarget(["unshare", "--net"]);
    try {
      await waitFor(() => stdout.includes(`ADDED ${nsInode(target.pid, "net")} net ${target.pid} sleep 1000`), 3000, "ADDED line");
    } finally {
      await target.kill();
    }
    interrupt("SIGINT");
    expect(await done).toBe(0);
  });
});
