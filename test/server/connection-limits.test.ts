import * as net from "node:net";
import { Client, connectivityState, credentials } from "@grpc/grpc-js";
import { NamespaceType, createClient } from "../../client";
import { startDaemon } from "../helpers/daemon";
import { codeOf } from "../helpers/outcome";
import { describeRoot } from "../helpers/privileged";
import { processState, waitFor } from "../helpers/proc";
import { MIN_MAX_MESSAGE_BYTES } from "../../server/programs/output-limits";

const selfNet = { ref: { type: NamespaceType.NET, source: { case: "pid" as const, value: process.pid } } };

describeRoot("connection limits", () => {
  it("--max-streams-per-connection holds further calls on that connection until one ends; other connections go on", async () => {
    const daemon = await startDaemon({ maxStreamsPerConnection: 1 });
    // grpc-js shares connections between clients of one target unless told otherwise.
    const other = createClient(daemon.address, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
    try {
      await daemon.client.inspect(selfNet);
      const holder = daemon.client.exec({ argv: ["/bin/sleep", "30"] });
      const pid = await holder.started;
      expect(await codeOf(daemon.client.inspect(selfNet, { timeoutMs: 500 }))).toBe("DEADLINE_EXCEEDED");
      expect(await codeOf(other.inspect(selfNet, { timeoutMs: 5000 }))).toBe("OK");
      holder.cancel();
      await waitFor(() => processState(pid) === null, 5000, "the program to go");
      expect(await codeOf(daemon.client.inspect(selfNet, { timeoutMs: 5000 }))).toBe("OK");
    } finally {
      other.disconnect();
      await daemon.stop();
    }
  });

  it("--keepalive-time/-timeout: a peer that stops answering pings is disconnected; one that answers stays", async () => {
    const daemon = await startDaemon({ keepaliveTimeMs: 500, keepaliveTimeoutMs: 500 });
    const started = Date.now();
    // A raw HTTP/2 client that sends its preface and SETTINGS, then never answers anything.
    const mute = net.connect(daemon.address.replace(/^unix:/, ""));
    const frameTypes: number[] = [];
    let pending = Buffer.alloc(0);
    mute.on("data", (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        frameTypes.push(pending[3]);
        pending = pending.subarray(9 + pending.readUIntBE(0, 3));
      }
    });
    mute.on("error", () => {});
    const closed = new Promise<number>((resolve) => mute.once("close", () => resolve(Date.now() - started)));
    mute.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    try {
      const after = await closed;
      const PING = 6;
      expect(frameTypes).toContain(PING);
      expect(after).toBeGreaterThanOrEqual(900);
      expect(after).toBeLessThan(10000);
      // A grpc-js client answers pings (nghttp2 does): its connection stays READY through several periods.
      const peer = new Client(daemon.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
      try {
        await new Promise<void>((resolve, reject) => peer.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
        const channel = peer.getChannel();
        const changes: connectivityState[] = [];
        // Called with an error once the deadline passes with the state unchanged; without one on a change.
        channel.watchConnectivityState(connectivityState.READY, Date.now() + 2500, (err) => {
          if (!err) changes.push(channel.getConnectivityState(false));
        });
        await new Promise((resolve) => setTimeout(resolve, 2600));
        expect(changes).toEqual([]);
        expect(channel.getConnectivityState(false)).toBe(connectivityState.READY);
      } finally {
        peer.close();
      }
    } finally {
      mute.destroy();
      await daemon.stop();
    }
  });

  it("--max-connection-idle closes a connection without calls (the client goes IDLE and reconnects for its next call)", async () => {
    const daemon = await startDaemon({ maxConnectionIdleMs: 1000 });
    const peer = new Client(daemon.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    try {
      await new Promise<void>((resolve, reject) => peer.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
      const channel = peer.getChannel();
      const left = await new Promise<connectivityState | "still READY">((resolve) =>
        channel.watchConnectivityState(connectivityState.READY, Date.now() + 5000, (err) => resolve(err ? "still READY" : channel.getConnectivityState(false))),
      );
      expect(left).toBe(connectivityState.IDLE);
      expect(await codeOf(daemon.client.inspect(selfNet, { timeoutMs: 5000 }))).toBe("OK");
    } finally {
      peer.close();
      await daemon.stop();
    }
  });

  it("--max-message-bytes refuses a larger request with RESOURCE_EXHAUSTED and keeps serving", async () => {
    // The smallest limit that carries a Run answer at the default output cap (output-limits).
    const daemon = await startDaemon({ maxMessageBytes: MIN_MAX_MESSAGE_BYTES });
    try {
      expect(await codeOf(daemon.client.run({ argv: ["/bin/cat"] }, { stdin: Buffer.alloc(MIN_MAX_MESSAGE_BYTES + 1) }))).toBe("RESOURCE_EXHAUSTED");
      const small = await daemon.client.run({ argv: ["/bin/cat"] }, { stdin: Buffer.from("fits") });
      expect(small.stdout.toString()).toBe("fits");
    } finally {
      await daemon.stop();
    }
  });
});
