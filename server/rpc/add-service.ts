import { randomUUID } from "node:crypto";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import type { Server, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { serviceDefinition } from "../../client/rpc/method-definitions";
import { RpcError, asRpcError, toServiceError } from "../errors";
import type { CallContext } from "./service-impl";

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;
type AnyHandler = (input: unknown, context: CallContext) => unknown;

/** Observes every finished call: the metrics and the access log hang here. */
export type CallObserver = (method: string, code: status, seconds: number) => void;

function contextFor(call: AnyCall, method: DescMethod, log: Logger): CallContext {
  const controller = new AbortController();
  const abort = () => controller.abort(new RpcError(status.CANCELLED, "the call was cancelled"));
  // grpc-js emits "cancelled" for a cancel, a passed deadline and a lost connection;
  // a call cancelled before its handler ran only says so in `cancelled`.
  (call as NodeJS.EventEmitter).on("cancelled", abort);
  if (call.cancelled) abort();
  const context = {
    signal: controller.signal,
    metadata: call.metadata,
    peer: call.getPeer(),
    method: method.name,
    log: log.child({ call: randomUUID(), method: `${method.parent.name}/${method.name}` }),
  };
  // grpc-js does not always say "cancelled" when the deadline passes (the reliability suite saw Run programs outlive
  // their call's 1 ms deadline), so the handler's signal enforces the deadline as well.
  const deadline = Number(call.getDeadline());
  if (Number.isFinite(deadline)) {
    const expire = () => controller.abort(new RpcError(status.DEADLINE_EXCEEDED, "the call's deadline passed"));
    if (deadline <= Date.now()) expire();
    else deadlineTimers.set(context, setTimeout(expire, deadline - Date.now()));
  }
  return context;
}

/** The timer enforcing each call's deadline, cleared when the call finishes. */
const deadlineTimers = new WeakMap<CallContext, NodeJS.Timeout>();

function finish(context: CallContext, observe: CallObserver, started: bigint, err?: unknown): ReturnType<typeof toServiceError> | undefined {
  clearTimeout(deadlineTimers.get(context));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (err === undefined) {
    observe(context.method, status.OK, seconds);
    context.log.debug({ seconds }, "call ok");
    return undefined;
  }
  const rpcError = context.signal.aborted ? asRpcError(context.signal.reason) : asRpcError(err);
  observe(context.method, rpcError.code, seconds);
  const level = rpcError.code === status.INTERNAL || rpcError.code === status.UNKNOWN ? "error" : "info";
  context.log[level]({ code: status[rpcError.code], reason: rpcError.reason, err: rpcError.cause ?? rpcError, seconds }, rpcError.message);
  return toServiceError(rpcError);
}

function unaryHandler(method: DescMethod, impl: AnyHandler, log: Logger, observe: CallObserver): UntypedHandleCall {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const started = process.hrtime.bigint();
    const context = contextFor(call, method, log);
    Promise.resolve()
      .then(() => impl(call.request, context))
      .then(
        (response) => callback(finish(context, observe, started) ?? null, response),
        (err: unknown) => callback(finish(context, observe, started, err) ?? null),
      );
  };
}

function streamingHandler(method: DescMethod, impl: AnyHandler, log: Logger, observe: CallObserver): UntypedHandleCall {
  return (call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) => {
    const started = process.hrtime.bigint();
    const context = contextFor(call, method, log);
    // Not `for await` on the call itself: a Readable's async iterator destroys the stream once the caller half-closes,
    // and for a duplex call that killed the answer too (an Exec whose caller half-closed after the spec hung).
    const input =
      method.methodKind === "bidi_streaming"
        ? { [Symbol.asyncIterator]: () => (call as ServerDuplexStream<unknown, unknown>).iterator({ destroyOnReturn: false }) }
        : (call as ServerWritableStream<unknown, unknown>).request;
    (async () => {
      for await (const response of impl(input, context) as AsyncIterable<unknown>) {
        if (!call.write(response)) await new Promise((resolve) => call.once("drain", resolve));
        if (context.signal.aborted) throw context.signal.reason;
      }
    })().then(
      () => {
        finish(context, observe, started);
        call.end();
      },
      (err: unknown) => {
        const serviceError = finish(context, observe, started, err);
        if (!context.signal.aborted) call.emit("error", serviceError);
      },
    );
  };
}

/**
 * Registers a generated service on a grpc-js server. Every handler's return
 * becomes exactly one answer and every throw one status (through RpcError);
 * a method with no handler answers UNIMPLEMENTED.
 */
export function addService(server: Server, service: DescService, impl: Record<string, unknown>, log: Logger, observe: CallObserver = () => {}): void {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = impl[method.localName] as AnyHandler | undefined;
    if (!handler) continue;
    const bound = handler.bind(impl) as AnyHandler;
    handlers[method.localName] =
      method.methodKind === "unary" ? unaryHandler(method, bound, log, observe) : streamingHandler(method, bound, log, observe);
  }
  server.addService(serviceDefinition(service), handlers);
}
