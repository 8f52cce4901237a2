import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { ServerCredentials } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import type { ConnectionLimits } from "./connection-limits";
import type { Listener } from "./unix-listener";

/** The TLS files of TCP listeners (PEM). */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that signs client certificates: mutual TLS. */
  clientCa?: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function hostOf(address: string): string {
  return address.startsWith("[") ? address.slice(0, address.indexOf("]") + 1) : address.slice(0, address.lastIndexOf(":"));
}

/** Whether `HOST:PORT` is on loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  const host = hostOf(address);
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/**
 * The credentials of a TCP listener: mutual TLS, or plaintext only on
 * loopback with --insecure-loopback. Anything else is refused at start:
 * whoever can call Run is root on the host.
 */
export function tcpCredentials(address: string, tls: TlsFiles | undefined, insecureLoopback: boolean): ServerCredentials {
  if (tls) {
    if (!tls.clientCa) throw new Error(`refusing TCP listener ${address}: mutual TLS is required, give --tls-client-ca (the CA of client certificates)`);
    return ServerCredentials.createSsl(read(tls.clientCa, "--tls-client-ca"), [{ cert_chain: read(tls.cert, "--tls-cert"), private_key: read(tls.key, "--tls-key") }], true);
  }
  if (!isLoopback(address)) {
    throw new Error(`refusing plaintext TCP listener ${address}: TCP needs --tls-cert, --tls-key and --tls-client-ca (plaintext only on 127.0.0.1/[::1] with --insecure-loopback)`);
  }
  if (!insecureLoopback) {
    throw new Error(`refusing plaintext TCP listener ${address}: give --tls-cert, --tls-key and --tls-client-ca, or --insecure-loopback to allow plaintext on loopback`);
  }
  return ServerCredentials.createInsecure();
}

/**
 * Binds `address` (HOST:PORT) with `credentials`. lxnsd accepts the connections
 * itself, so that one over `limits` (its peer: the client's address) is closed
 * before TLS or HTTP/2 starts; grpc-js gets the rest through a connection
 * injector, which does the TLS handshake (mutual TLS) itself.
 */
export async function listenTcp(server: Server, address: string, credentials: ServerCredentials, limits: ConnectionLimits): Promise<Listener> {
  const injector = server.createConnectionInjector(credentials);
  const netServer = createServer((socket) => {
    if (!limits.admit(`tcp ${socket.remoteAddress}`, socket)) {
      socket.destroy();
      return;
    }
    injector.injectConnection(socket);
  });
  const host = hostOf(address).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  await new Promise<void>((resolve, reject) => {
    netServer.once("error", (err) => reject(new Error(`cannot listen on ${address}: ${err.message}`)));
    netServer.listen(port, host, () => resolve());
  });
  const bound = netServer.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  // Stops accepting; the connections already made drain with the grpc-js server's shutdown.
  return { address: `${hostOf(address)}:${boundPort}`, close: () => netServer.close() };
}
