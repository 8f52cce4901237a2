import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { credentials, makeGenericClientConstructor } from "@grpc/grpc-js";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { NamespaceType, createClient } from "../../client";
import type { ExecSession, LxnsdClient } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, processState, waitFor } from "../helpers/proc";

type HealthClient = { Watch(request: { service: string }): ClientReadableStream<{ status: string }>; close(): void };

async function output(session: ExecSession): Promise<string> {
  let text = "";
  for await (const chunk of session.output) text += Buffer.from(chunk.data).toString();
  return text;
}

describeRoot("graceful shutdown of the lxnsd process", () => {
  let dir: string;
  let socket: string;
  let daemon: DaemonProcess;
  let client: LxnsdClient;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-shutdown-"));
    socket = `unix:${path.join(dir, "lxnsd.sock")}`;
  });
  afterEach(async () => {
    client?.disconnect();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(grace: string): Promise<void> {
    daemon = spawnDaemon(["--listen", socket, "--shutdown-grace", grace]);
    await daemon.ready;
    client = createClient(socket);
  }

  it("on SIGTERM reports NOT_SERVING, refuses new connections, lets a running Exec finish within the grace, then exits 0 leaving nothing", async () => {
    await start("60");
    const Health = makeGenericClientConstructor(healthService as never, "Health");
    const health = new Health(socket, credentials.createInsecure()) as unknown as HealthClient;
    const watch = health.Watch({ service: "" });
    const statuses: string[] = [];
    const notServing = new Promise<void>((resolve) =>
      watch.on("data", ({ status }: { status: string }) => {
        statuses.push(status);
        if (status === "NOT_SERVING") resolve();
      }),
    );
    watch.on("error", () => {});

    // The program runs until we write a line: it finishes when we say, not on a timer.
    const session = client.exec({ argv: ["sh", "-c", "read line; echo got $line"] });
    const pid = await session.started;
    const text = output(session);
    const children = childrenOf(daemon.proc.pid!).map((c) => c.pid);
    expect(children).toContain(pid);

    daemon.proc.kill("SIGTERM");
    await notServing;
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    watch.cancel();
    health.close();
    await waitFor(() => daemon.stderr().includes('"msg":"shutting down"'), 5000, "the shutdown log line"); // a pipe of its own: may come after the watch's news
    expect(processState(pid)).not.toBeNull(); // still running: the grace is 60 s
    const late = createClient(socket);
    await expect(late.getCurrentNamespaces({}, { timeoutMs: 2000 })).rejects.toMatchObject({ codeName: expect.stringMatching(/UNAVAILABLE|DEADLINE_EXCEEDED/) });
    late.disconnect();

    await session.write("bye\n");
    session.closeStdin();
    expect(await text).toBe("got bye\n");
    expect(await session.wait()).toEqual({ code: 0 });
    expect(await daemon.exited).toBe(0);
    for (const child of children) expect(processState(child)).toBeNull();
    expect(daemon.stderr()).toMatch(/"msg":"lxnsd stopped"/);
  });

  it("past the grace cancels the Exec, kills its program and exits 0", async () => {
    await start("0.5");
    const session = client.exec({ argv: ["sh", "-c", "sleep 1000 & wait"] });
    const pid = await session.started;
    const text = output(session).catch((err: Error) => err);
    await waitFor(() => childrenOf(pid).length === 1, 2000, "the program's sleep");
    const sleeper = childrenOf(pid)[0].pid;

    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await expect(session.wait()).rejects.toMatchObject({ codeName: expect.stringMatching(/CANCELLED|UNAVAILABLE/) });
    await text;
    // Killed with its process group, and reaped: not even a zombie is left.
    await waitFor(() => processState(pid) === null && processState(sleeper) === null, 2000, "the program and its sleep to be gone");
  });

  it("ends WatchNamespaces streams with OK at once, rather than holding the exit for the grace", async () => {
    await start("60"); // more than jest's 30 s timeout: waiting out the grace would fail the test
    const events: string[] = [];
    const watching = (async () => {
      for await (const event of client.watchNamespaces({ types: [NamespaceType.UTS] })) {
        events.push(String(event.kind));
        if (events.length === 1) daemon.proc.kill("SIGTERM");
      }
    })();
    await watching; // ends without an error
    expect(events.length).toBeGreaterThan(0);
    expect(await daemon.exited).toBe(0);
  });

  it("SIGINT does the same, with the default grace when there is nothing in flight", async () => {
    daemon = spawnDaemon(["--listen", socket]);
    await daemon.ready;
    daemon.proc.kill("SIGINT");
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).toMatch(/"signal":"SIGINT","graceMs":10000,"msg":"shutting down"/);
  });
});
