import { mkdirSync, statSync, unlinkSync, chmodSync } from "node:fs";
import { connect } from "node:net";
import * as path from "node:path";

/** The socket path of a `unix:PATH` / `unix:///PATH` address, or undefined for TCP addresses. */
export function unixSocketPath(address: string): string | undefined {
  if (!address.startsWith("unix:")) return undefined;
  const rest = address.slice("unix:".length);
  return rest.startsWith("//") ? rest.slice(2) : rest;
}

function isLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Makes `socketPath` ready to bind: creates its directory, removes a stale
 * socket file left by a daemon that died, and refuses when another daemon is
 * still answering there or the path is not a socket.
 */
export async function prepareUnixSocket(socketPath: string): Promise<void> {
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  let stat;
  try {
    stat = statSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await isLive(socketPath)) throw new Error(`another server is already listening on ${socketPath}; stop it first or choose another --listen`);
  unlinkSync(socketPath);
}

/** Restricts the bound socket to its owner and group (0660). */
export function restrictSocket(socketPath: string): void {
  chmodSync(socketPath, 0o660);
}

/** Removes the socket file at shutdown, if it is still there. */
export function removeSocket(socketPath: string): void {
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone
  }
}
