// The floor of ReadFile 256 MiB: grpc-js itself streaming preallocated
// 64 KiB ReadFileResponse messages (bytes data = 1) from a trivial server,
// a process of its own on a unix socket, to a grpc-js client, with
// backpressure and no file, no daemon. `node dist/bench/stream-floor.js
// serve SOCKET` is the server; streamFloor() starts it and reads N bytes.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { Client, Server, ServerCredentials, credentials } from "@grpc/grpc-js";
import type { ServerWritableStream } from "@grpc/grpc-js";

const CHUNK = 64 * 1024;
const METHOD = "/lxnsd.bench.Floor/Read";
const identity = (value: Buffer): Buffer => value;

/** One ReadFileResponse of CHUNK bytes, encoded once: tag 0x0a, varint length, the bytes. */
function chunkMessage(): Buffer {
  const length: number[] = [];
  for (let n = CHUNK; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), Buffer.alloc(CHUNK, 0x62)]);
}

function serve(socket: string): void {
  const message = chunkMessage();
  const server = new Server();
  const read = async (call: ServerWritableStream<Buffer, Buffer>) => {
    let left = call.request.readUInt32BE(0) * CHUNK;
    while (left > 0 && !call.cancelled) {
      left -= CHUNK;
      if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
    }
    call.end();
  };
  server.addService({ Read: { path: METHOD, requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } }, { Read: read });
  server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    process.stdout.write("ready\n");
  });
}

/** Starts the floor server (process `pid`) at `socket`; read(bytes) streams that many bytes from it; stop() ends it. */
export async function streamFloor(socket: string): Promise<{ pid: number; read(bytes: number): Promise<void>; stop(): void }> {
  const proc = spawn(process.execPath, [path.join(__dirname, "stream-floor.js"), "serve", socket], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once("data", () => resolve());
    proc.once("exit", (code) => reject(new Error(`stream floor exited ${code}`)));
  });
  const client = new Client(`unix:${socket}`, credentials.createInsecure());
  return {
    pid: proc.pid!,
    read: (bytes) =>
      new Promise((resolve, reject) => {
        const request = Buffer.alloc(4);
        request.writeUInt32BE(Math.ceil(bytes / CHUNK));
        let got = 0;
        const call = client.makeServerStreamRequest(METHOD, identity, identity, request);
        call.on("data", (data: Buffer) => (got += data.length - 4));
        call.on("error", reject);
        call.on("end", () => (got >= bytes ? resolve() : reject(new Error(`stream floor: ${got} of ${bytes} bytes`))));
      }),
    stop: () => {
      client.close();
      proc.kill();
    },
  };
}

if (require.main === module && process.argv[2] === "serve") serve(process.argv[3]);
