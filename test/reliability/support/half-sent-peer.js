// An attacking peer for the peer-limits reliability suite (plain JS: it runs as another uid under setpriv).
// Opens CONNECTIONS HTTP/2 connections to the unix socket SOCKET, and on each STREAMS gRPC calls whose one
// message announces BYTES bytes and sends all but the last one, then holds everything open until stdin ends.
// Prints one JSON line when done sending: {connected, refused, alive, streams, sentBytes, statuses}
// (statuses: how many streams were answered with each grpc-status).
const http2 = require("node:http2");
const net = require("node:net");

const [socketPath, connectionsArg, streamsArg, bytesArg, pathArg] = process.argv.slice(2);
const CONNECTIONS = Number(connectionsArg);
const STREAMS = Number(streamsArg);
const BYTES = Number(bytesArg);
const METHOD = pathArg || "/lxnsd.v1.NamespaceService/Inspect";
const CHUNK = Buffer.alloc(64 * 1024, 0x41);

let sentBytes = 0;
let streams = 0;
const statuses = {};

function connectOne() {
  return new Promise((resolve) => {
    const session = http2.connect("http://lxnsd", { createConnection: () => net.connect(socketPath) });
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      resolve(ok ? session : null);
    };
    session.on("error", () => done(false));
    session.on("close", () => done(false));
    session.once("remoteSettings", () => done(true));
    setTimeout(() => done(false), 5000).unref();
  });
}

/** Sends the header of a BYTES message and all of its body but the last byte; resolves when written or refused. */
function halfSend(session) {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = session.request({ ":method": "POST", ":path": METHOD, "content-type": "application/grpc", te: "trailers" });
    } catch {
      resolve();
      return;
    }
    streams++;
    stream.on("error", () => {});
    stream.on("close", () => resolve());
    stream.on("response", (headers) => {
      const code = headers["grpc-status"];
      if (code !== undefined) statuses[code] = (statuses[code] || 0) + 1;
    });
    const header = Buffer.alloc(5);
    header.writeUInt32BE(BYTES, 1);
    stream.write(header);
    let left = BYTES - 1;
    const pump = () => {
      while (left > 0 && !stream.destroyed) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        const size = piece.length;
        const more = stream.write(piece, (err) => {
          if (!err) sentBytes += size;
        });
        if (!more) {
          stream.once("drain", pump);
          return;
        }
      }
      resolve();
    };
    pump();
    // A stream the daemon stops reading (flow control) counts as done after a while.
    setTimeout(resolve, 20000).unref();
  });
}

async function main() {
  const sessions = [];
  let refused = 0;
  for (let i = 0; i < CONNECTIONS; i++) {
    const session = await connectOne();
    if (session) sessions.push(session);
    else refused++;
  }
  await Promise.all(sessions.map((session) => Promise.all(Array.from({ length: STREAMS }, () => halfSend(session)))));
  const alive = sessions.filter((session) => !session.closed && !session.destroyed).length;
  process.stdout.write(`${JSON.stringify({ connected: sessions.length, refused, alive, streams, sentBytes, statuses })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const session of sessions) session.destroy();
    process.exit(0);
  });
}

void main();
