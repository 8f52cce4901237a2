// The floor every unary lxnsd call is compared with: an empty grpc-js unary
// call (no protobuf, no work) on a unix socket, served the same way the daemon
// serves (grpc-js Server, insecure credentials).
import { Client, Server, ServerCredentials, credentials } from "@grpc/grpc-js";
import type { MethodDefinition, ServiceError } from "@grpc/grpc-js";
import type { Operation } from "./stats";

const identity = (bytes: Buffer): Buffer => bytes;
const EMPTY = Buffer.alloc(0);

/** A no-op unary method whose messages are raw bytes. */
export const NOOP_METHOD: MethodDefinition<Buffer, Buffer> = {
  path: "/lxnsd.bench.Floor/Noop",
  requestStream: false,
  responseStream: false,
  originalName: "noop",
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};

/** Serves the no-op method on `address` until the server is shut down. */
export async function serveFloor(address: string): Promise<Server> {
  const server = new Server();
  server.addService({ noop: NOOP_METHOD }, { noop: (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, EMPTY) });
  await new Promise<number>((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  return server;
}

/** A client of the floor server: `call` makes one empty unary call. */
export function floorClient(address: string): { call: Operation; close(): void } {
  const client = new Client(address, credentials.createInsecure());
  const call = () =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(NOOP_METHOD.path, identity, identity, EMPTY, (err: ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(value!))),
    );
  return { call, close: () => client.close() };
}
