import * as http2 from "node:http2";
import * as net from "node:net";
import { describeRoot } from "../helpers/privileged";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";

/** More than nghttp2's rapid-reset burst (1000 RST_STREAMs, then 33 per second) in well under a second. */
const RESETS = 1500;

describeRoot("faults: a connection resetting streams as fast as it can (HTTP/2 rapid reset)", () => {
  let lxnsd: DaemonUnderTest;
  let baseline: Holdings;

  beforeAll(async () => {
    // The idle timeout is what closes the cut-off connection (node keeps its socket otherwise). Longer than the
    // reset storm takes on a loaded machine: an idle GOAWAY (NO_ERROR) before the guard's would hide the guard.
    lxnsd = await startDaemonUnderTest({ args: ["--max-connection-idle", "3"] });
    await lxnsd.client.getCurrentNamespaces({}); // its connection is part of the baseline
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("is cut off with GOAWAY, its socket closed within the idle timeout; the daemon goes on serving everyone else", async () => {
    const socketPath = lxnsd.address.replace(/^unix:/, "");
    const session = http2.connect("http://lxnsd", { createConnection: () => net.connect(socketPath) });
    session.on("error", () => {}); // the GOAWAY's error code surfaces here too
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once("close", resolve));
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    let sent = 0;
    for (; sent < RESETS && !session.closed && !session.destroyed; sent++) {
      const stream = session.request({ ":method": "POST", ":path": "/lxnsd.v1.NamespaceService/GetCurrentNamespaces", "content-type": "application/grpc", te: "trailers" });
      stream.on("error", () => {});
      stream.close(http2.constants.NGHTTP2_CANCEL);
      if (sent % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await goaway).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    session.destroy();
    await closed;
    expect(sent).toBeGreaterThan(1000);

    // Another connection is served as before (its own idle close in between is transparent to the client).
    expect((await lxnsd.client.getCurrentNamespaces({})).namespaces).toHaveLength(8);
    // grpc-js checks idleness every timeout period: closed within two of them.
    await lxnsd.expectBack(baseline, 10000);
  });
});
