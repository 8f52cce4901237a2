import { status } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import { FileService as FileServiceDesc, WriteMode } from "../../api/gen/lxnsd/v1/file_service_pb";
import type { ListDirectoryRequest, ReadFileRequest, StatRequest, WriteFileRequest } from "../../api/gen/lxnsd/v1/file_service_pb";
import { RpcError, invalidArgument } from "../errors";
import { FileIo } from "../files/file-io";
import { checkFilePath } from "../files/file-paths";
import { listFiles, readFileChunks, statFile } from "../files/file-read";
import { openFileRoot, openReadRoot } from "../files/file-root";
import type { FileRoot, FileRootDeps } from "../files/file-root";
import { planWrite, writeFileIn } from "../files/file-write";
import { addService } from "../rpc/add-service";
import type { RpcHooks } from "../rpc/add-service";
import { describeRef } from "../rpc/ref-targets";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";

/** What the file service needs from the daemon. */
export interface FileServiceDeps extends FileRootDeps {
  /** --max-file-bytes: the most one ReadFile answers. */
  maxFileBytes: number;
}

/**
 * The messages after a WriteFile header, as their data: another header is
 * INVALID_ARGUMENT; a cancel ends the iteration with the call's reason even
 * while no message comes.
 */
async function* dataOf(requests: AsyncIterator<WriteFileRequest>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => undefined);
  for (;;) {
    const next = await Promise.race([requests.next(), aborted]);
    if (next.done) return;
    if (next.value.msg.case !== "data") throw invalidArgument("WriteFile: only data may follow the header");
    yield next.value.msg.value;
  }
}

/**
 * lxnsd.v1.FileService: files as a process (or a mount namespace) sees
 * them, without starting a program. Paths resolve once with openat2
 * RESOLVE_IN_ROOT from the reference's root (files/file-root.ts). Every
 * lookup, read and write runs on a thread of its own (files/file-io.ts),
 * never on the libuv pool nor the event loop, and holds the call's child
 * slot while it runs: a call stuck on a hung mount answers at its deadline
 * or cancel, and the daemon keeps serving everyone else.
 */
export class FileService implements ServiceImpl<typeof FileServiceDesc> {
  constructor(private readonly deps: FileServiceDeps) {}

  /** Registers this service on `server`. */
  addTo(server: Server, hooks: RpcHooks): void {
    addService(server, FileServiceDesc, this as unknown as Record<string, unknown>, hooks);
  }

  private async withRoot<T>(request: { mount?: ReadFileRequest["mount"]; path: string }, context: CallContext, body: (root: FileRoot) => Promise<T>): Promise<T> {
    checkFilePath(request.path);
    const root = await openFileRoot(request.mount, context.caller, this.deps, new FileIo(context));
    try {
      return await body(root);
    } finally {
      void root.release();
    }
  }

  async *readFile(request: ReadFileRequest, context: CallContext) {
    checkFilePath(request.path);
    const root = await openReadRoot(request.mount, context.caller, this.deps, new FileIo(context));
    try {
      for await (const data of readFileChunks(root, request.path, request.offset, request.length, this.deps.maxFileBytes, context.signal)) yield { data };
    } finally {
      void root.release();
    }
  }

  async stat(request: StatRequest, context: CallContext) {
    return this.withRoot(request, context, async (root) => ({ info: await statFile(root, request.path) }));
  }

  async *listDirectory(request: ListDirectoryRequest, context: CallContext) {
    const entries = await this.withRoot(request, context, (root) => listFiles(root, request.path));
    for (const entry of entries) yield { entry };
  }

  async writeFile(requests: AsyncIterable<WriteFileRequest>, context: CallContext) {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done || first.value.msg.case !== "header") throw invalidArgument("WriteFile: the first message must be the header");
    const header = first.value.msg.value;
    if (header.mount) context.targets.push(describeRef(header.mount));
    context.audit.path = header.path.slice(0, 4096);
    context.audit.writeMode = (WriteMode[header.writeMode] ?? String(header.writeMode)).toLowerCase();
    const plan = planWrite(header);
    const root = await openFileRoot(header.mount, context.caller, this.deps, new FileIo(context));
    try {
      const written = await writeFileIn(root, plan, dataOf(iterator, context.signal), context.signal);
      context.log.info({ target: root.label, path: plan.path, bytes: written.toString() }, "file written");
      return { bytesWritten: written };
    } catch (err) {
      if (context.signal.aborted) throw context.signal.reason instanceof RpcError ? context.signal.reason : new RpcError(status.CANCELLED, "the call was cancelled");
      throw err;
    } finally {
      void root.release();
    }
  }
}
