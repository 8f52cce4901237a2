import * as http2 from "node:http2";
import * as net from "node:net";
import { clone, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import fc from "fast-check";
import { FileService, MountService, NamespaceService, ProcessService } from "../../client";
import { methodPath } from "../../api/method-definitions";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { ALLOWED, tameRequest } from "./support/fuzz-policy";
import type { FuzzWorld } from "./support/fuzz-policy";
import { assertFuzz } from "./support/fuzz-seeds";
import { Tally } from "./support/outcomes";

const SERVICES: DescService[] = [NamespaceService, ProcessService, MountService, FileService];
const RUNS_PER_METHOD = 40;
/** What grpc-js itself answers a body it cannot take: unparsable (INTERNAL), compressed without an encoding (UNIMPLEMENTED/INTERNAL), too big. */
const FRAMING_ERRORS = [status.INTERNAL, status.UNIMPLEMENTED, status.RESOURCE_EXHAUSTED];

/** How a request body can be malformed. */
const body = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: "random protobuf", bytes, frame: frame(bytes) })),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: "raw bytes, no framing", bytes: undefined, frame: Buffer.from(bytes) })),
  fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })).map(([bytes, extra]) => ({ kind: "length beyond the data", bytes: undefined, frame: frame(bytes, bytes.length + extra) })),
  fc.uint8Array({ minLength: 2, maxLength: 100 }).map((bytes) => ({ kind: "length short of the data", bytes: undefined, frame: frame(bytes, 1) })),
  fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 255 })).map(([bytes, flag]) => ({ kind: "compressed flag", bytes: undefined, frame: frame(bytes, bytes.length, flag) })),
  fc.constantFrom({ kind: "empty", bytes: undefined, frame: Buffer.alloc(0) }, { kind: "half a header", bytes: undefined, frame: Buffer.from([0, 0]) }),
);

function frame(bytes: Uint8Array, length = bytes.length, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flag, 0);
  header.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([header, Buffer.from(bytes)]);
}

/** Whether the request the daemon would decode from `bytes` is one the fuzz policy allows to send (taming changes nothing). */
function safeToSend(method: DescMethod, bytes: Uint8Array, world: FuzzWorld): boolean {
  let message: Message;
  try {
    message = fromBinary(method.input, bytes);
  } catch {
    return true; // undecodable: nothing runs
  }
  const tamed = clone(method.input, message);
  tameRequest(method, tamed, world);
  return Buffer.from(toBinary(method.input, tamed)).equals(Buffer.from(toBinary(method.input, message)));
}

/** One POST on its own HTTP/2 stream; resolves to grpc-status (and the HTTP status), or "open" when still running after `waitMs` (a watch). */
function post(session: http2.ClientHttp2Session, pathName: string, data: Buffer, contentType: string, waitMs: number): Promise<{ grpc?: number; http?: number } | "open"> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": pathName, "content-type": contentType, te: "trailers" });
    const answer: { grpc?: number; http?: number } = {};
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve("open");
    }, waitMs);
    stream.on("response", (headers) => {
      answer.http = Number(headers[":status"]);
      if (headers["grpc-status"] !== undefined) answer.grpc = Number(headers["grpc-status"]);
    });
    stream.on("trailers", (trailers) => {
      if (trailers["grpc-status"] !== undefined) answer.grpc = Number(trailers["grpc-status"]);
    });
    stream.on("data", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    stream.on("error", () => {});
    stream.end(data);
  });
}

describeRoot("fuzz: malformed bytes on the socket", () => {
  let lxnsd: DaemonUnderTest;
  let target: Target;
  let world: FuzzWorld;
  let socketPath: string;
  let baseline: Holdings;
  const tally = new Tally();

  beforeAll(async () => {
    // Handles that decoded requests open are never closed by the suite: they expire with a 1 s lease.
    lxnsd = await startDaemonUnderTest({ args: ["--handle-lease", "1"] });
    socketPath = lxnsd.address.slice("unix:".length);
    target = await startTarget(["unshare", "--user", "--map-root-user", "--mount", "--net"]);
    world = { targetPid: target.pid, noSuchPid: 2 ** 22 + 1, handles: [], userHandle: "h-none", scratch: `${lxnsd.dir}/scratch` };
    await lxnsd.client.getCurrentNamespaces(); // its connection is part of the baseline
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    console.log(`wire fuzz:\n${tally}`);
    await target?.kill();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });
  afterEach(async () => {
    expect(lxnsd.proc.proc.exitCode).toBeNull();
    expect((await lxnsd.client.getCurrentNamespaces()).namespaces).toHaveLength(8);
  });

  it("garbage bytes, with or without the HTTP/2 preface: the connection is dropped, the daemon serves on", async () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    await assertFuzz(
      "wire: garbage bytes",
      200,
      fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 4096 }), async (withPreface, bytes) => {
        // Whether the daemon closed the connection itself (true) or kept it open until our 5 s timer cut it.
        const closedByDaemon = await new Promise<boolean>((resolve) => {
          let timedOut = false;
          const socket = net.connect(socketPath, () => socket.end(withPreface ? Buffer.concat([preface, bytes]) : Buffer.from(bytes)));
          const timer = setTimeout(() => {
            timedOut = true;
            socket.destroy();
          }, 5000);
          socket.on("data", () => {});
          socket.on("error", () => {});
          socket.on("close", () => {
            clearTimeout(timer);
            resolve(!timedOut);
          });
        });
        expect(closedByDaemon).toBe(true);
      }),
    );
  });

  for (const service of SERVICES) {
    for (const method of service.methods) {
      it(`${service.name}.${method.name}: corrupted gRPC framing and random protobuf bytes get a defined status`, async () => {
        const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
        session.on("error", () => {});
        try {
          await assertFuzz(
            `wire: ${service.name}.${method.name}`,
            RUNS_PER_METHOD,
            fc.asyncProperty(body, fc.constantFrom("application/grpc", "application/grpc+proto", "text/plain"), async (request, contentType) => {
              fc.pre(request.bytes === undefined || safeToSend(method, request.bytes, world));
              const outcome = await post(session, methodPath(method), request.frame, contentType, method.methodKind === "unary" ? 10000 : 3000);
              if (outcome === "open") {
                // A stream still going after 3 s (a watch): only valid requests may do that.
                if (method.methodKind === "unary") throw new Error(`${method.name}: no answer to ${request.kind} in 10 s`);
                tally.add(method.name, status.OK);
                return;
              }
              if (contentType === "text/plain") {
                // Not gRPC at all: refused at the HTTP level (415), as the gRPC spec says.
                if (outcome.http !== 415) throw new Error(`${method.name}: HTTP ${outcome.http} for text/plain`);
                return;
              }
              if (outcome.grpc === undefined) throw new Error(`${method.name}: no grpc-status for ${request.kind} (HTTP ${outcome.http})`);
              tally.add(method.name, outcome.grpc);
              const decodes = request.bytes !== undefined && (() => {
                try {
                  fromBinary(method.input, request.bytes!);
                  return true;
                } catch {
                  return false;
                }
              })();
              const allowed = decodes ? ALLOWED[method.name] : [...ALLOWED[method.name], ...FRAMING_ERRORS];
              if (!allowed.includes(outcome.grpc)) throw new Error(`${method.name} answered ${status[outcome.grpc]} to ${request.kind} (${contentType})`);
            }),
          );
        } finally {
          session.close();
        }
      });
    }
  }

  it("nothing leaks: fds, handles and children are back once the connections are gone", async () => {
    await lxnsd.expectBack(baseline, 20000);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
  });
});
