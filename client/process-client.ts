import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client, ClientDuplexStream } from "@grpc/grpc-js";
import { ProcessService } from "../api/gen/lxnsd/v1/process_service_pb";
import type { ExecRequestSchema, ExecResponse } from "../api/gen/lxnsd/v1/process_service_pb";
import type { ExecSpecSchema, ExitStatus } from "../api/gen/lxnsd/v1/types_pb";
import { toLxnsdError } from "./lxnsd-error";
import { grpcOptions, onAbort } from "./rpc/call-options";
import type { CallOptions } from "./rpc/call-options";
import { methodDefinition } from "../api/method-definitions";
import { serviceClient } from "./rpc/service-client";

/** What to run and where (lxnsd.v1.ExecSpec as an init object). */
export type ExecSpecInit = MessageInitShape<typeof ExecSpecSchema>;

/** How a program ended: exactly one of `code` and `signal` is set. */
export interface ProgramExit {
  code?: number;
  signal?: number;
}

/** Options of run(). */
export interface RunOptions extends CallOptions {
  /** Bytes (or UTF-8 text) for the program's stdin, closed after them. */
  stdin?: Uint8Array | string;
  /** Output kept per stream; the daemon's default (1 MiB) when unset. */
  maxOutputBytes?: number;
}

/** What run() resolves to. */
export interface RunResult {
  stdout: Buffer;
  stderr: Buffer;
  exit: ProgramExit;
  /** Whether stdout or stderr was cut at maxOutputBytes. */
  truncated: boolean;
}

/** One chunk of a running program's output. */
export interface OutputChunk {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** A program running through Exec. */
export interface ExecSession {
  /** The program's pid in the daemon's pid namespace, once it started. */
  readonly started: Promise<number>;
  /** Its output in order per stream; iterate once. Reading slowly slows the program. */
  readonly output: AsyncIterable<OutputChunk>;
  /** Sends bytes to its stdin; resolves when the stream takes more. */
  write(data: Uint8Array | string): Promise<void>;
  /** Closes its stdin (with spec.tty: types the terminal's EOF character). */
  closeStdin(): void;
  /** Sends a signal to its process group (with spec.tty: to its terminal's foreground process group). */
  signal(signal: number): void;
  /** With spec.tty: sets the terminal's size (its foreground job gets SIGWINCH). */
  resize(rows: number, cols: number): void;
  /** How it ended. If output is not being read, it is read and dropped. */
  wait(): Promise<ProgramExit>;
  /** Cancels the call: the daemon kills the program. */
  cancel(): void;
}

/** ExitStatus as a plain object. */
export function programExit(status: ExitStatus | undefined): ProgramExit {
  if (status?.status.case === "signal") return { signal: status.status.value };
  return { code: status?.status.case === "code" ? status.status.value : 0 };
}

/** run(spec, options): the unary Run, with stdin and the result as plain values. */
export function runFunction(client: Client): (spec: ExecSpecInit, options?: RunOptions) => Promise<RunResult> {
  const unary = serviceClient(client, ProcessService).run;
  return async (spec, options = {}) => {
    const stdin = typeof options.stdin === "string" ? Buffer.from(options.stdin) : options.stdin;
    const response = await unary({ spec, stdin, maxOutputBytes: options.maxOutputBytes }, options);
    return { stdout: Buffer.from(response.stdout), stderr: Buffer.from(response.stderr), exit: programExit(response.exit), truncated: response.truncated };
  };
}

/** exec(spec, options): the streaming Exec as an ExecSession. */
export function execFunction(client: Client): (spec: ExecSpecInit, options?: CallOptions) => ExecSession {
  const def = methodDefinition(ProcessService.method.exec);
  return (spec, options) => {
    const { metadata, call: callOptions } = grpcOptions(options);
    const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, callOptions) as ClientDuplexStream<
      MessageInitShape<typeof ExecRequestSchema>,
      ExecResponse
    >;
    call.write({ msg: { case: "spec", value: spec } });
    const session = new GrpcExecSession(call);
    onAbort(options?.signal, () => session.cancel());
    return session;
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

class GrpcExecSession implements ExecSession {
  private readonly startedAt = deferred<number>();
  private readonly exitedAt = deferred<ProgramExit>();
  private readonly events: AsyncGenerator<OutputChunk>;
  /** Read ahead at once, so that `started` and errors arrive without anyone iterating `output`. */
  private firstChunk: Promise<IteratorResult<OutputChunk>> | undefined;
  private reading = false;
  private streamUp = false;

  constructor(private readonly call: ClientDuplexStream<MessageInitShape<typeof ExecRequestSchema>, ExecResponse>) {
    call.once("metadata", () => (this.streamUp = true));
    // A failed call settles wait() even when nobody reads the rest of the output.
    call.on("error", (err) => {
      this.startedAt.reject(toLxnsdError(err));
      this.exitedAt.reject(toLxnsdError(err));
    });
    this.events = this.read();
    this.firstChunk = this.events.next();
    this.firstChunk.catch(() => {});
  }

  get started(): Promise<number> {
    return this.startedAt.promise;
  }

  get output(): AsyncIterable<OutputChunk> {
    if (this.reading) throw new Error("ExecSession.output can be iterated once");
    this.reading = true;
    return { [Symbol.asyncIterator]: () => this.iterator() };
  }

  async write(data: Uint8Array | string): Promise<void> {
    const value = typeof data === "string" ? Buffer.from(data) : data;
    if (!this.call.write({ msg: { case: "stdin", value } })) await new Promise((resolve) => this.call.once("drain", resolve));
  }

  closeStdin(): void {
    this.call.write({ msg: { case: "closeStdin", value: true } });
  }

  signal(signal: number): void {
    this.call.write({ msg: { case: "signal", value: signal } });
  }

  resize(rows: number, cols: number): void {
    this.call.write({ msg: { case: "resize", value: { rows, cols } } });
  }

  wait(): Promise<ProgramExit> {
    if (!this.reading) {
      this.reading = true;
      void (async () => {
        const iterator = this.iterator();
        while (!(await iterator.next()).done);
      })().catch(() => {});
    }
    return this.exitedAt.promise;
  }

  cancel(): void {
    // grpc-js 1.14 still sends a call cancelled before its stream exists, and then never
    // resets it: the daemon would keep the program running. Cancel once the stream is up.
    if (this.streamUp) this.call.cancel();
    else this.call.once("metadata", () => this.call.cancel());
  }

  private iterator(): AsyncIterator<OutputChunk> {
    return {
      next: () => {
        const first = this.firstChunk;
        this.firstChunk = undefined;
        return first ?? this.events.next();
      },
      return: () => this.events.return(undefined),
    };
  }

  private async *read(): AsyncGenerator<OutputChunk> {
    try {
      for await (const response of this.call as AsyncIterable<ExecResponse>) {
        const msg = response.msg;
        if (msg.case === "started") this.startedAt.resolve(msg.value.pid);
        else if (msg.case === "stdout" || msg.case === "stderr") yield { stream: msg.case, data: msg.value };
        else if (msg.case === "exit") this.exitedAt.resolve(programExit(msg.value));
      }
      this.exitedAt.reject(new Error("the Exec stream ended without an exit status"));
    } catch (err) {
      const error = toLxnsdError(err);
      this.startedAt.reject(error);
      this.exitedAt.reject(error);
      throw error;
    } finally {
      this.call.end();
    }
  }
}
