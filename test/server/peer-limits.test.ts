import * as http2 from "node:http2";
import * as net from "node:net";
import pino from "pino";
import { defaultConfig } from "../../server/config/config";
import { Daemon } from "../../server/daemon";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { capturingLogger, newToken, tokenHash, writePolicy } from "../helpers/policy";
import { describeRoot } from "../helpers/privileged";

/** An HTTP/2 connection to the daemon's socket: the session once the daemon's SETTINGS arrived, null if it was closed first. */
function connect(address: string): Promise<http2.ClientHttp2Session | null> {
  const session = address.startsWith("unix:")
    ? http2.connect("http://lxnsd", { createConnection: () => net.connect(address.slice("unix:".length)) })
    : http2.connect(`http://${address}`);
  return new Promise((resolve) => {
    session.on("error", () => resolve(null));
    session.once("close", () => resolve(null));
    session.once("remoteSettings", () => resolve(session));
  });
}

describeRoot("peers at accept and at a call's headers", () => {
  const daemons: TestDaemon[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  afterEach(async () => {
    sessions.splice(0).forEach((session) => session.destroy());
    for (const daemon of daemons.splice(0)) await daemon.stop();
  });
  const open = async (address: string, count: number) => {
    const opened = await Promise.all(Array.from({ length: count }, () => connect(address)));
    for (const session of opened) if (session) sessions.push(session);
    return opened;
  };
  const refusals = (lines: Record<string, unknown>[]) => lines.filter((line) => line.msg === "connection refused (logged once a minute per peer)");

  it("--max-connections-per-peer: one connection more is closed at accept, logged once; one closed makes room", async () => {
    const { log, lines } = capturingLogger();
    const daemon = await startDaemon({ maxConnectionsPerPeer: 3 }, log);
    daemons.push(daemon);
    const first = await open(daemon.address, 3);
    expect(first.every((session) => session !== null)).toBe(true);
    expect(await open(daemon.address, 4)).toEqual([null, null, null, null]);
    expect(refusals(lines)).toEqual([expect.objectContaining({ peer: "unix uid 0", why: expect.stringContaining("--max-connections-per-peer (3)") })]);
    first[0]!.destroy();
    await new Promise((resolve) => first[0]!.once("close", resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await connect(daemon.address)).not.toBeNull();
  });

  it("--max-connections bounds every peer together", async () => {
    const daemon = await startDaemon({ maxConnections: 2 });
    daemons.push(daemon);
    const opened = await open(daemon.address, 4);
    expect(opened.filter((session) => session !== null)).toHaveLength(2);
    expect(daemon.daemon.connections.size).toBe(2);
  });

  it("TCP listeners count their connections too, per client address", async () => {
    const tcp = new Daemon(defaultConfig({ listen: ["127.0.0.1:0"], insecureLoopback: true, maxConnectionsPerPeer: 2 }), pino({ level: "silent" }));
    const [address] = await tcp.start();
    try {
      const opened = await open(address, 3);
      expect(opened.filter((session) => session !== null)).toHaveLength(2);
      expect(tcp.connections.size).toBe(2);
    } finally {
      sessions.splice(0).forEach((session) => session.destroy());
      await tcp.stop(0);
    }
  });

  it("a call that names nobody is UNAUTHENTICATED at its headers, before its (half-sent, 16 MiB) message is read", async () => {
    // Token identities: a unix peer no identity names may connect (it may hold a token), root is no owner here.
    const policy = writePolicy({ "unix-owner-scopes": [], identities: [{ name: "holder", scopes: ["read"], tokens: [tokenHash(newToken())] }] });
    const daemon = await startDaemon({ policyFile: policy });
    daemons.push(daemon);
    const [session] = await open(daemon.address, 1);
    expect(session).not.toBeNull();
    const stream = session!.request({ ":method": "POST", ":path": "/lxnsd.v1.NamespaceService/Inspect", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    const header = Buffer.alloc(5);
    header.writeUInt32BE(16 * 1024 * 1024, 1);
    stream.write(Buffer.concat([header, Buffer.alloc(64 * 1024)]));
    // Before, the daemon waited for the whole message: no answer until the caller gave up.
    const answer = await Promise.race([
      new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000)),
    ]);
    expect(answer?.["grpc-status"]).toBe("16");
  });
});
