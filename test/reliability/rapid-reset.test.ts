import * as http2 from "node:http2";
import * as net from "node:net";
import { describeRoot } from "../helpers/privileged";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";

/**
 * nghttp2's rapid-reset guard allows a burst of 1000 RST_STREAMs, then 33 per
 * second. A storm goes on until the connection is cut off, up to this many:
 * on a machine however slow, the guard trips long before.
 */
const MAX_RESETS = 20000;
/** The daemon's --max-connection-idle, seconds. */
const IDLE_SECONDS = 3;

/** A raw HTTP/2 connection to the daemon, its first GOAWAY's error code, and its close. */
async function connect(socketPath: string) {
  const session = http2.connect("http://lxnsd", { createConnection: () => net.connect(socketPath) });
  session.on("error", () => {}); // the GOAWAY's error code surfaces here too
  const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));
  const closed = new Promise<void>((resolve) => session.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return { session, goaway, closed };
}

/** Opens and at once cancels streams until the connection is cut off (GOAWAY) or MAX_RESETS; returns how many it sent. */
async function resetStorm(session: http2.ClientHttp2Session, goaway: Promise<number>): Promise<number> {
  let cut = false;
  void goaway.then(() => (cut = true));
  let sent = 0;
  for (; sent < MAX_RESETS && !cut && !session.closed && !session.destroyed; sent++) {
    const stream = session.request({ ":method": "POST", ":path": "/lxnsd.v1.NamespaceService/GetCurrentNamespaces", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    stream.close(http2.constants.NGHTTP2_CANCEL);
    if (sent % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  return sent;
}

describeRoot("faults: a connection resetting streams as fast as it can (HTTP/2 rapid reset)", () => {
  let lxnsd: DaemonUnderTest;
  let baseline: Holdings;
  let socketPath: string;

  beforeAll(async () => {
    // The idle timeout closes a cut-off connection that holds no call, should node keep its socket open.
    lxnsd = await startDaemonUnderTest({ args: ["--max-connection-idle", String(IDLE_SECONDS)] });
    socketPath = lxnsd.address.replace(/^unix:/, "");
    await lxnsd.client.getCurrentNamespaces({}); // its connection is part of the baseline
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("is cut off by the rapid-reset guard: GOAWAY with INTERNAL_ERROR; the daemon goes on serving everyone else", async () => {
    const { session, goaway, closed } = await connect(socketPath);
    // The idle timeout cannot fire during the storm, however slow the machine: grpc-js counts a connection idle
    // only while it has no open call, and this watch (which never ends on its own) stays open until the GOAWAY.
    // Its first answer means the daemon has it.
    const held = session.request({ ":method": "POST", ":path": "/lxnsd.v1.NamespaceService/WatchNamespaces", "content-type": "application/grpc", te: "trailers" });
    held.on("error", () => {});
    held.end(Buffer.alloc(5)); // one empty WatchNamespacesRequest
    await new Promise<void>((resolve, reject) => {
      held.once("data", () => resolve());
      held.once("close", () => reject(new Error(`the watch ended before its first answer (RST_STREAM ${held.rstCode})`)));
    });
    const sent = await resetStorm(session, goaway);
    expect(await goaway).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    expect(sent).toBeGreaterThan(1000);
    held.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
    await closed;

    // Another connection is served as before (its own idle close in between is transparent to the client).
    expect((await lxnsd.client.getCurrentNamespaces({})).namespaces).toHaveLength(8);
    await lxnsd.expectBack(baseline, 20000);
  });

  it("a storm on a connection that holds no call: cut off, its socket closed (the idle timeout at the latest)", async () => {
    const { session, goaway, closed } = await connect(socketPath);
    await resetStorm(session, goaway);
    // Whichever comes first on a machine this fast or slow: the guard's GOAWAY or the idle one; either cuts it off.
    expect([http2.constants.NGHTTP2_INTERNAL_ERROR, http2.constants.NGHTTP2_NO_ERROR]).toContain(await goaway);
    session.destroy();
    await closed;
    expect((await lxnsd.client.getCurrentNamespaces({})).namespaces).toHaveLength(8);
    // Node closes it once the client is gone; if it did not, the idle timeout would, within a few periods.
    await lxnsd.expectBack(baseline, 20000);
  });
});
