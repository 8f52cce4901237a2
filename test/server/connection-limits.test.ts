import { LxnsdError, NamespaceType, createClient } from "../../client";
import { startDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { processState, waitFor } from "../helpers/proc";

const selfNet = { ref: { type: NamespaceType.NET, source: { case: "pid" as const, value: process.pid } } };

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (err) {
    if (!(err instanceof LxnsdError)) throw err;
    return err.codeName;
  }
}

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

  it("--max-message-bytes refuses a larger request with RESOURCE_EXHAUSTED and keeps serving", async () => {
    const daemon = await startDaemon({ maxMessageBytes: 4096 });
    try {
      expect(await codeOf(daemon.client.run({ argv: ["/bin/cat"] }, { stdin: Buffer.alloc(8192) }))).toBe("RESOURCE_EXHAUSTED");
      const small = await daemon.client.run({ argv: ["/bin/cat"] }, { stdin: Buffer.from("fits") });
      expect(small.stdout.toString()).toBe("fits");
    } finally {
      await daemon.stop();
    }
  });
});
