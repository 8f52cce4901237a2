import { createHash, randomBytes } from "node:crypto";
import * as http2 from "node:http2";
import * as net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RunRequestSchema, RunResponseSchema } from "../../api/gen/lxnsd/v1/process_service_pb";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { StreamMeter } from "../../server/rpc/receive-budget";

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A gRPC message: the 5-byte length prefix, then the bytes. */
function framed(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * Runs `sha256sum` once per input over one raw HTTP/2 connection, writing the requests' bytes
 * interleaved, each in 64 KiB writes (grpc-js's client sent one message after the other), so that
 * the messages are in the middle of being received at once. Resolves to each call's stdout.
 */
async function interleavedRuns(socketPath: string, inputs: Buffer[]): Promise<string[]> {
  const session = http2.connect("http://lxnsd", { createConnection: () => net.connect(socketPath) });
  try {
    const calls = inputs.map((stdin) => {
      const stream = session.request({ ":method": "POST", ":path": "/lxnsd.v1.ProcessService/Run", "content-type": "application/grpc", te: "trailers" });
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      const answered = new Promise<string>((resolve, reject) => {
        stream.on("error", reject);
        stream.on("close", () => {
          const body = Buffer.concat(chunks);
          if (body.length < 5) return reject(new Error(`no answer (rst ${stream.rstCode})`));
          resolve(Buffer.from(fromBinary(RunResponseSchema, body.subarray(5)).stdout).toString());
        });
      });
      return { stream, bytes: framed(toBinary(RunRequestSchema, create(RunRequestSchema, { spec: { argv: ["sha256sum"] }, stdin }))), answered };
    });
    // Each stream pumps its own bytes as its flow-control window allows; nghttp2 interleaves them.
    const pumps = calls.map(async ({ stream, bytes }) => {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        if (!stream.write(bytes.subarray(at, at + 64 * 1024))) await new Promise((resolve) => stream.once("drain", resolve));
      }
      stream.end();
    });
    const answers = Promise.all(calls.map((call) => call.answered));
    answers.catch(() => undefined);
    await Promise.all(pumps);
    return await answers;
  } finally {
    session.destroy();
  }
}

// The budget pauses streams in the middle of a message (server/rpc/receive-budget.ts); on one
// connection (the client's one channel) that must never lose a byte or leave a call waiting for ever.
// test/reliability/peer-limits.test.ts shows the bound under attack.
describeRoot("--max-receive-memory: one connection's messages being received", () => {
  let lxnsd: TestDaemon;
  beforeAll(async () => {
    lxnsd = await startDaemon({ maxReceiveMemoryMb: 1 });
  });
  afterAll(async () => {
    await lxnsd?.stop();
  });

  it("8 Runs on one connection whose 4 MiB messages arrive interleaved (32x the budget): streams are held back and let go, and every byte arrives", async () => {
    const resumed = jest.spyOn(StreamMeter.prototype, "resume");
    const inputs = Array.from({ length: 8 }, () => randomBytes(4 * MiB));
    const outputs = await interleavedRuns(lxnsd.address.replace(/^unix:/, ""), inputs);
    outputs.forEach((stdout, i) => expect(stdout.split(" ")[0]).toBe(sha256(inputs[i])));
    // The budget did hold streams back, and let them go again.
    expect(resumed.mock.calls.length).toBeGreaterThan(0);
    resumed.mockRestore();
  });

  it("8 Runs at once through the client, each with 4 MiB of stdin, all get every byte", async () => {
    const inputs = Array.from({ length: 8 }, () => randomBytes(4 * MiB));
    const results = await Promise.all(inputs.map((stdin) => lxnsd.client.run({ argv: ["sha256sum"] }, { stdin })));
    results.forEach((result, i) => {
      expect(result.exit).toEqual({ code: 0 });
      expect(result.stdout.toString().split(" ")[0]).toBe(sha256(inputs[i]));
    });
  });

  it("64 Execs waiting for stdin on the same connection do not hold up a Run with 4 MiB of stdin, nor each other", async () => {
    const sessions = Array.from({ length: 64 }, () => lxnsd.client.exec({ argv: ["sha256sum"] }));
    await Promise.all(sessions.map((session) => session.started));
    const stdin = randomBytes(4 * MiB);
    const run = await lxnsd.client.run({ argv: ["sha256sum"] }, { stdin });
    expect(run.stdout.toString().split(" ")[0]).toBe(sha256(stdin));
    const inputs = sessions.map(() => randomBytes(256 * 1024));
    const outputs = sessions.map(async (session) => {
      let stdout = "";
      for await (const chunk of session.output) if (chunk.stream === "stdout") stdout += Buffer.from(chunk.data).toString();
      return { exit: await session.wait(), stdout };
    });
    await Promise.all(
      sessions.map(async (session, i) => {
        for (let at = 0; at < inputs[i].length; at += 64 * 1024) await session.write(inputs[i].subarray(at, at + 64 * 1024));
        session.closeStdin();
      }),
    );
    const done = await Promise.all(outputs);
    done.forEach((result, i) => {
      expect(result.exit).toEqual({ code: 0 });
      expect(result.stdout.split(" ")[0]).toBe(sha256(inputs[i]));
    });
  });
});
