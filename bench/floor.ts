// The floor every unary lxnsd call is compared with: an empty grpc-js unary
// call (no protobuf, no work) on a unix socket, served the same way the daemon
// serves (grpc-js Server, insecure credentials). And the floor of Run: the
// same empty call whose handler only has the addon start /usr/bin/true in a
// process's net+uts namespaces and waits for it, what Run does with nothing
// of the daemon around it (no protobuf, policy, plan, logs or metrics).
import { Client, Server, ServerCredentials, credentials } from "@grpc/grpc-js";
import type { MethodDefinition, ServiceError, ServerUnaryCall } from "@grpc/grpc-js";
import * as native from "../native/lib";
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

/** Runs /usr/bin/true in the net and uts namespaces of the pid its request names (decimal text). */
export const SPAWN_TRUE_METHOD: MethodDefinition<Buffer, Buffer> = { ...NOOP_METHOD, path: "/lxnsd.bench.Floor/SpawnTrue", originalName: "spawnTrue" };

async function spawnTrue(pid: number): Promise<void> {
  const fds = [native.openPath(`/proc/${pid}/ns/net`), native.openPath(`/proc/${pid}/ns/uts`)];
  try {
    const program = await native.spawnProgram({
      join: [
        { fd: fds[0], nstype: native.CLONE_NEWNET },
        { fd: fds[1], nstype: native.CLONE_NEWUTS },
      ],
      exec: { candidates: ["/usr/bin/true"], argv: ["/usr/bin/true"], env: [], collectOutput: 1024 },
    });
    native.close(program.stdin);
    const exit = await program.exited;
    if (exit.code !== 0) throw new Error(`true ended ${JSON.stringify(exit)}`);
  } finally {
    for (const fd of fds) native.close(fd);
  }
}

/** Serves the no-op and spawn-true methods on `address` until the server is shut down. */
export async function serveFloor(address: string): Promise<Server> {
  const server = new Server();
  server.addService(
    { noop: NOOP_METHOD, spawnTrue: SPAWN_TRUE_METHOD },
    {
      noop: (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, EMPTY),
      spawnTrue: (call: ServerUnaryCall<Buffer, Buffer>, callback: (err: Error | null, value?: Buffer) => void) =>
        spawnTrue(Number(call.request.toString())).then(() => callback(null, EMPTY), (err: Error) => callback(err)),
    },
  );
  await new Promise<number>((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  return server;
}

/** A client of the floor server: `call` makes one empty unary call, `spawnTrue(pid)` one floor Run. */
export function floorClient(address: string): { call: Operation; spawnTrue: (pid: number) => Operation; close(): void } {
  const client = new Client(address, credentials.createInsecure());
  const unary = (path: string, request: Buffer) => () =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(path, identity, identity, request, (err: ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(value!))),
    );
  return { call: unary(NOOP_METHOD.path, EMPTY), spawnTrue: (pid) => unary(SPAWN_TRUE_METHOD.path, Buffer.from(String(pid))), close: () => client.close() };
}
