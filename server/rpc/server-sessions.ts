import type { ServerHttp2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/**
 * The HTTP/2 sessions (connections) `server` serves, each until it is really
 * closed ('close': destroyed once its last stream ended).
 *
 * grpc-js 1.14's tryShutdown() cannot be trusted to wait for them on Node.js
 * 24: there Http2Server.close() already marks every session closed (a graceful
 * GOAWAY), so grpc-js, finding `session.closed`, reports each as closed at
 * once and calls back while calls are still in flight. The sessions are read
 * from grpc-js's own table (private: the version is pinned by the lockfile).
 */
export function openSessions(server: Server): ServerHttp2Session[] {
  const sessions = (server as unknown as { sessions?: Map<ServerHttp2Session, unknown> }).sessions;
  if (!(sessions instanceof Map)) throw new Error("grpc-js Server has no sessions table: openSessions() needs updating");
  return [...sessions.keys()].filter((session) => !session.destroyed);
}

/** Resolves once every session in SESSIONS has closed. */
export function sessionsClosed(sessions: readonly ServerHttp2Session[]): Promise<void> {
  return Promise.all(sessions.map((session) => (session.destroyed ? undefined : new Promise<void>((resolve) => session.once("close", () => resolve()))))).then(() => undefined);
}
