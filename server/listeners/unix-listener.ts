import { chownSync } from "node:fs";
import { createServer } from "node:net";
import type { Server as NetServer, Socket } from "node:net";
import { ServerCredentials } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as native from "../../native/lib";
import { unixPeerString } from "../auth/unix-peer";
import type { UnixPeer } from "../auth/unix-peer";
import type { ConnectionLimits } from "./connection-limits";
import { prepareUnixSocket, removeSocket, restrictSocket } from "./unix-socket";

/** A listener the daemon closes at shutdown: close() stops accepting connections. */
export interface Listener {
  /** The address as bound (a TCP port 0 replaced by the real one). */
  readonly address: string;
  close(): void;
}

function socketFd(socket: Socket): number | undefined {
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
}

/** Who may connect to a unix listener, and how many connections each may hold. */
export interface UnixAdmission {
  /** Whether the policy knows this peer (or it may still name itself by a token); others are closed at accept. */
  knows(peer: UnixPeer): boolean;
  limits: ConnectionLimits;
}

/**
 * Serves `server` on a unix socket that lxnsd accepts itself: every connection
 * is tagged with its peer's uid, gid and groups as the kernel recorded them at
 * connect (SO_PEERCRED, SO_PEERGROUPS; the policy's unix identities), and a
 * peer the policy does not know, or one over the connection limits, is closed
 * before grpc-js reads a byte. The socket is created mode 0660 (umask around
 * bind, so it is never wider), group `gid` when given.
 */
export async function listenUnix(server: Server, socketPath: string, gid: number | undefined, admission: UnixAdmission, log: Logger): Promise<Listener> {
  await prepareUnixSocket(socketPath);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const netServer: NetServer = createServer((socket) => {
    let peer: UnixPeer;
    try {
      const fd = socketFd(socket) ?? -1;
      peer = { ...native.peerCredentials(fd), groups: native.peerGroups(fd) };
    } catch (err) {
      log.warn({ err }, "refusing a unix connection whose peer credentials cannot be read");
      socket.destroy();
      return;
    }
    const key = `unix uid ${peer.uid}`;
    if (!admission.knows(peer)) {
      admission.limits.refused(key, "no identity of the policy names this peer");
      socket.destroy();
      return;
    }
    if (!admission.limits.admit(key, socket)) {
      socket.destroy();
      return;
    }
    // grpc-js names a call's peer after its socket's remoteAddress.
    Object.defineProperty(socket, "remoteAddress", { value: unixPeerString(peer), configurable: true });
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    netServer.once("error", (err) => reject(new Error(`cannot listen on unix:${socketPath}: ${err.message}`)));
    const umask = process.umask(0o117);
    try {
      netServer.listen(socketPath, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  restrictSocket(socketPath);
  if (gid !== undefined) chownSync(socketPath, -1, gid);
  return {
    address: `unix:${socketPath}`,
    // Stops accepting; the connections already made drain with the grpc-js server's shutdown.
    close: () => {
      netServer.close();
      removeSocket(socketPath);
    },
  };
}
