import { spawn } from "node:child_process";
import * as path from "node:path";
import { Client, credentials } from "@grpc/grpc-js";
import { NamespaceType, ProcessService, status } from "../../client";
import { serviceClient } from "../../client/rpc/service-client";
import type { ExecSession } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { fdHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";
import { childrenOf, processState, waitFor } from "../helpers/proc";
import { processesWith, runMarker } from "../reliability/support/markers";

async function collect(session: ExecSession): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  for await (const chunk of session.output) out[chunk.stream] += Buffer.from(chunk.data).toString();
  return out;
}

const gone = (pid: number) => waitFor(() => processState(pid) === null, 1000, `pid ${pid} to be gone`);

/** A program that starts a background `sleep MARKER` in its process group, then runs `then` (a shell command). */
const withBackground = (marker: string, then: string) => ["sh", "-c", `sleep ${marker} & ${then}`];

/** Waits until `count` processes carry `marker` (the program and what it started run), then until none does. */
const started = (marker: string, count: number) => waitFor(() => processesWith(marker).length === count, 5000, `${count} processes with ${marker}`);
const allGone = (marker: string) => waitFor(() => processesWith(marker).length === 0, 2000, `every process with ${marker} to be gone (left: ${processesWith(marker)})`);

describeRoot("Exec", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    await lxnsd.client.getCurrentNamespaces();
  });
  afterAll(() => lxnsd.stop());

  it("streams stdout and stderr in order per stream, then the exit code", async () => {
    const session = lxnsd.client.exec({ argv: ["sh", "-c", "for i in $(seq 1 500); do echo out$i; echo err$i >&2; done; exit 3"] });
    const { stdout, stderr } = await collect(session);
    const lines = (prefix: string) => Array.from({ length: 500 }, (_, i) => `${prefix}${i + 1}`).join("\n") + "\n";
    expect(stdout).toBe(lines("out"));
    expect(stderr).toBe(lines("err"));
    expect(await session.wait()).toEqual({ code: 3 });
    expect(await session.started).toBeGreaterThan(0);
  });

  it("a caller that half-closes right after the spec gets started, output and exit (it hung: the answer stream was destroyed)", async () => {
    const channel = new Client(lxnsd.address, credentials.createInsecure());
    try {
      const exec = serviceClient(channel, ProcessService).exec;
      const cases: string[] = [];
      const onlySpec = (async function* () {
        yield { msg: { case: "spec" as const, value: { argv: ["sh", "-c", "cat; echo done"] } } };
      })();
      for await (const response of exec(onlySpec, { timeoutMs: 10000 })) {
        cases.push(response.msg.case === "stdout" ? Buffer.from(response.msg.value).toString() : String(response.msg.case));
      }
      expect(cases).toEqual(["started", "done\n", "exit"]);
    } finally {
      channel.close();
    }
  });

  it("round-trips stdin through cat, chunk by chunk, until close_stdin", async () => {
    const session = lxnsd.client.exec({ argv: ["cat"] });
    const output = collect(session);
    for (let i = 0; i < 100; i++) await session.write(`line ${i}\n`);
    session.closeStdin();
    expect((await output).stdout).toBe(Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(""));
    expect(await session.wait()).toEqual({ code: 0 });
  });

  it("delivers a signal sent through the stream", async () => {
    const session = lxnsd.client.exec({ argv: ["sleep", "100"] });
    const pid = await session.started;
    session.signal(15);
    expect(await session.wait()).toEqual({ signal: 15 });
    await gone(pid);
  });

  it("a caller that reads slowly slows the program: the daemon does not buffer without bound", async () => {
    const session = lxnsd.client.exec({ argv: ["sh", "-c", "head -c 67108864 /dev/zero; echo done >&2"] });
    const rssBefore = process.memoryUsage().rss;
    const iterator = session.output[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Stalled: the 64 MiB did not pile up in the daemon.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 * 1024 * 1024);
    let stderr = "";
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) if (next.value.stream === "stderr") stderr += Buffer.from(next.value.data);
    expect(stderr).toBe("done\n");
    expect(await session.wait()).toEqual({ code: 0 });
  }, 60_000);

  it("cancel mid-stream kills the program and what it started within a second", async () => {
    const marker = runMarker();
    const session = lxnsd.client.exec({ argv: withBackground(marker, `while true; do echo tick; sleep 0.01; done # ${marker}`) });
    const pid = await session.started;
    const iterator = session.output[Symbol.asyncIterator]();
    await iterator.next();
    await started(marker, 2);
    session.cancel();
    await expect(session.wait()).rejects.toMatchObject({ code: status.CANCELLED });
    await gone(pid);
    await allGone(marker);
  });

  it("a deadline kills the program and what it started: DEADLINE_EXCEEDED", async () => {
    const marker = runMarker();
    const session = lxnsd.client.exec({ argv: withBackground(marker, `exec sleep ${marker}`) }, { timeoutMs: 2000 });
    const pid = await session.started;
    await started(marker, 2);
    await expect(session.wait()).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
    await gone(pid);
    await allGone(marker);
  });

  it("a caller that disconnects (its process killed) takes the program and what it started with it", async () => {
    const marker = runMarker();
    const script = path.join(__dirname, "..", "helpers", "exec-client.js");
    const client = spawn(process.execPath, [script, lxnsd.address, ...withBackground(marker, `exec sleep ${marker}`)], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((resolve) => client.stdout!.once("data", (data: Buffer) => resolve(Number(data.toString()))));
    try {
      expect(processState(pid)).not.toBeNull();
      await started(marker, 3); // the caller (the marker is on its command line too), the program and its background sleep
    } finally {
      client.kill("SIGKILL");
    }
    await gone(pid);
    await allGone(marker);
  });

  it("the first message must carry spec; a bad signal ends the stream with INVALID_ARGUMENT", async () => {
    const noArgv = lxnsd.client.exec({ argv: [] });
    await expect(noArgv.wait()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    const session = lxnsd.client.exec({ argv: ["sleep", "100"] });
    const pid = await session.started;
    session.signal(999);
    await expect(session.wait()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await gone(pid);
  });

  it("joins namespaces like Run: hostname of a new UTS namespace", async () => {
    const session = lxnsd.client.exec({ unshare: [NamespaceType.UTS], unshareOptions: { hostname: "exec-test" }, argv: ["hostname"] });
    expect((await collect(session)).stdout).toBe("exec-test\n");
  });
});

describeRoot("ProcessService leaves nothing behind", () => {
  it("after 1,000 Run and Exec requests the daemon's fds and children are where they were", async () => {
    const lxnsd = await startDaemon();
    try {
      await lxnsd.client.getCurrentNamespaces();
      const heldBefore = fdHoldings();
      const childrenBefore = childrenOf().length;
      const unexpected: string[] = [];
      const expectOutcome = async (what: string, call: Promise<unknown>, code: status) => {
        const err = await call.then(() => undefined, (e: { code?: number }) => e);
        if (err?.code !== code) unexpected.push(`${what}: ${err === undefined ? "OK" : (status[err.code!] ?? String(err))}`);
      };
      const join = [
        { type: NamespaceType.NET, source: { case: "self" as const, value: true } },
        { type: NamespaceType.UTS, source: { case: "self" as const, value: true } },
      ];
      let next = 0;
      const worker = async () => {
        while (next < 1000) {
          const i = next++;
          if (i % 10 === 0) {
            const session = lxnsd.client.exec({ join, argv: ["cat"] });
            await session.write("x");
            session.cancel();
            await expectOutcome("cancelled exec", session.wait(), status.CANCELLED);
          } else if (i % 10 === 1) {
            await expectOutcome("missing program", lxnsd.client.run({ argv: ["/nonexistent"] }), status.NOT_FOUND);
          } else {
            const result = await lxnsd.client.run({ join, argv: ["true"] });
            expect(result.exit).toEqual({ code: 0 });
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect([...new Set(unexpected)]).toEqual([]);
      await waitFor(() => childrenOf().length === childrenBefore, 3000, "every child to be reaped");
      await waitForNoNewHoldings(heldBefore, 3000, "the pipes and pidfds of the programs");
      expect(childrenOf().filter((child) => child.state === "Z")).toEqual([]);
    } finally {
      await lxnsd.stop();
    }
  }, 120_000);
});
