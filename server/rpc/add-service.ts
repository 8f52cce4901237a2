import { randomUUID } from "node:crypto";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import type { Metadata, Server, ServerDuplexStream, ServerReadableStream, ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import type { Logger } from "pino";
import type { Caller } from "../auth/caller";
import { changesState, scopeOf } from "../auth/scopes";
import type { Scope } from "../auth/scopes";
import { CHILD_METHODS } from "../programs/child-slots";
import type { ChildSlots } from "../programs/child-slots";
import { RpcError, asRpcError, toServiceError } from "../errors";
import { addDetails, auditPeer, requestDetails, responseDetails, writeAudit } from "./audit";
import type { AuditPeer } from "./audit";
import { refTargets } from "./ref-targets";
import { serverServiceDefinition } from "./response-serializer";
import type { CallContext } from "./service-impl";

export type AnyCall = ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;
type AnyHandler = (input: unknown, context: CallContext) => unknown;

/** Observes every finished call: the metrics and the access log hang here. */
export type CallObserver = (method: string, code: status, seconds: number) => void;

/** What a call says about who makes it: its metadata (a bearer token), its connection's peer and TLS certificate. */
export interface CallCredentials {
  readonly metadata: Metadata;
  getPeer(): string;
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate };
}

/** Decides who a call comes from, before anything runs. */
export interface CallGate {
  /** The caller of `call`; throws UNAUTHENTICATED when its credentials name nobody. */
  identify(call: CallCredentials): Caller;
}

/** What every handler is wrapped with. */
export interface RpcHooks {
  log: Logger;
  /** The audit stream of the calls that change anything; undefined: none (--audit-log off). */
  audit?: Logger;
  gate: CallGate;
  observe?: CallObserver;
  /** Bounds the calls that run children (CHILD_METHODS). */
  slots?: ChildSlots;
  /** Readies what a request's references need (the container index) before its handler runs. */
  prepare?: (request: unknown, context: CallContext) => Promise<void>;
}

/** What every call of one method needs to know about it, worked out once when its handler is made. */
interface MethodFacts {
  method: DescMethod;
  /** "Service/Method", as scopes, logs and audit lines name it. */
  name: string;
  scope: Scope;
  /** Runs a program or per-request child: takes a child slot. */
  takesChild: boolean;
  /** Changes something: leaves an audit line. */
  audited: boolean;
}

function factsOf(method: DescMethod): MethodFacts {
  const name = `${method.parent.name}/${method.name}`;
  return { method, name, scope: scopeOf(name), takesChild: CHILD_METHODS.has(name), audited: changesState(name) };
}

/**
 * A slot's release shared by the call and what it leaves running
 * (context.holdSlot): the slot is freed once the call has ended and every
 * hold is released.
 */
function sharedRelease(release: () => void, context: CallContext): () => void {
  let holders = 1;
  const drop = () => {
    holders -= 1;
    if (holders === 0) release();
  };
  (context as { holdSlot: () => () => void }).holdSlot = () => {
    holders += 1;
    let dropped = false;
    return () => {
      if (!dropped) drop();
      dropped = true;
    };
  };
  let ended = false;
  return () => {
    if (!ended) drop();
    ended = true;
  };
}

/** Identifies the caller, checks its scope, waits for a child slot; the context carries the caller. */
async function admit(call: AnyCall, facts: MethodFacts, hooks: RpcHooks, context: CallContext): Promise<() => void> {
  const caller = hooks.gate.identify(call);
  (context as { caller: Caller }).caller = caller;
  if (!caller.scopes.has(facts.scope)) {
    throw new RpcError(status.PERMISSION_DENIED, `${caller.name} lacks the ${facts.scope} scope that ${facts.name} needs`, "SCOPE_MISSING");
  }
  if (!hooks.slots || !facts.takesChild) return () => {};
  return sharedRelease(await hooks.slots.acquire(context.signal, caller.key), context);
}

/** A call's context, and `done` to call once it has answered. */
function contextFor(call: AnyCall, facts: MethodFacts, log: Logger): { context: CallContext; done: () => void } {
  const controller = new AbortController();
  const abort = () => controller.abort(new RpcError(status.CANCELLED, "the call was cancelled"));
  // grpc-js emits "cancelled" for a cancel, a passed deadline and a lost connection
  // (and, once a call has answered, when its stream closes: `done` stops listening);
  // a call cancelled before its handler ran only says so in `cancelled`.
  const emitter = call as NodeJS.EventEmitter;
  emitter.on("cancelled", abort);
  if (call.cancelled) abort();
  const name = facts.name;
  const callId = randomUUID();
  let callLog: Logger | undefined;
  const context: CallContext = {
    callId,
    audit: requestDetails(name, (call as { request?: unknown }).request),
    signal: controller.signal,
    metadata: call.metadata,
    peer: call.getPeer(),
    method: facts.method.name,
    caller: undefined as unknown as Caller,
    targets: [],
    holdSlot: () => () => {},
    // One child logger per call, made when first used: by then the caller is known (admit runs first).
    get log(): Logger {
      callLog ??= log.child(context.caller ? { call: callId, method: name, identity: context.caller.name } : { call: callId, method: name });
      return callLog;
    },
    set log(value: Logger) {
      callLog = value;
    },
    // A child logger prints at its parent's level (none is made with a level of its own).
    logs: (level) => (callLog ?? log).isLevelEnabled(level),
  };
  // grpc-js does not always say "cancelled" when the deadline passes (the reliability suite saw Run programs outlive
  // their call's 1 ms deadline), so the handler's signal enforces the deadline as well.
  const deadline = Number(call.getDeadline());
  if (Number.isFinite(deadline)) {
    const expire = () => controller.abort(new RpcError(status.DEADLINE_EXCEEDED, "the call's deadline passed"));
    if (deadline <= Date.now()) expire();
    else deadlineTimers.set(context, setTimeout(expire, deadline - Date.now()));
  }
  if (facts.audited) peers.set(context, auditPeer(call));
  return { context, done: () => emitter.off("cancelled", abort) };
}

/** The timer enforcing each call's deadline, cleared when the call finishes. */
const deadlineTimers = new WeakMap<CallContext, NodeJS.Timeout>();
/** Who each call came from, for its audit line. */
const peers = new WeakMap<CallContext, AuditPeer>();

function finish(context: CallContext, facts: MethodFacts, hooks: RpcHooks, started: bigint, err?: unknown): ReturnType<typeof toServiceError> | undefined {
  clearTimeout(deadlineTimers.get(context));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rpcError = err === undefined ? undefined : context.signal.aborted ? asRpcError(context.signal.reason) : asRpcError(err);
  const code = rpcError?.code ?? status.OK;
  hooks.observe?.(context.method, code, seconds);
  if (facts.audited && hooks.audit) {
    const identity = context.caller?.name ?? `unauthenticated ${context.peer}`;
    writeAudit(hooks.audit, context.callId, { identity, peer: peers.get(context) ?? {}, method: facts.name, targets: context.targets, ...context.audit, outcome: status[code] });
  }
  if (!rpcError) {
    if (context.logs("debug")) context.log.debug({ seconds }, "call ok");
    return undefined;
  }
  const level = rpcError.code === status.INTERNAL || rpcError.code === status.UNKNOWN ? "error" : "info";
  context.log[level]({ code: status[rpcError.code], reason: rpcError.reason, err: rpcError.cause ?? rpcError, seconds }, rpcError.message);
  return toServiceError(rpcError);
}

function unaryHandler(facts: MethodFacts, impl: AnyHandler, hooks: RpcHooks): UntypedHandleCall {
  return (call: ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const started = process.hrtime.bigint();
    const { context, done } = contextFor(call, facts, hooks.log);
    // A client stream (WriteFile) is handed over as an async iterable; its handler adds its targets once it has read them.
    const clientStream = facts.method.methodKind === "client_streaming";
    const input = clientStream
      ? { [Symbol.asyncIterator]: () => (call as ServerReadableStream<unknown, unknown>).iterator({ destroyOnReturn: false }) }
      : (call as ServerUnaryCall<unknown, unknown>).request;
    if (!clientStream) context.targets.push(...refTargets(input));
    let release = () => {};
    admit(call, facts, hooks, context)
      .then(async (granted) => {
        release = granted;
        if (!clientStream) await hooks.prepare?.(input, context);
        return impl(input, context);
      })
      .then(
        (response) => {
          release();
          if (facts.audited) addDetails(context.audit, responseDetails(response));
          callback(finish(context, facts, hooks, started) ?? null, response);
          done();
        },
        (err: unknown) => {
          release();
          callback(finish(context, facts, hooks, started, err) ?? null);
          done();
        },
      );
  };
}

/** Most responses of one stream written but not yet handed to HTTP/2 (grpc-js's own buffer holds 16). ReadFile reuses its read blocks on the strength of this bound (files/file-read.ts). */
const MAX_UNSENT_RESPONSES = 2;

/**
 * Backpressure per stream: waits while MAX_UNSENT_RESPONSES are still in
 * grpc-js's buffer. Its objectMode buffer reports "full" only at 16
 * messages, 1 MiB of 64 KiB output chunks per stream, which 64 streams
 * turn into 100 MiB of the daemon's memory.
 */
class WriteWindow {
  private unsent = 0;
  private wake?: () => void;

  private closed = false;
  private stopDrainWait?: () => void;

  constructor(private readonly call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) {
    call.once("close", () => this.end());
  }

  async write(response: unknown): Promise<void> {
    this.unsent += 1;
    const roomy = this.call.write(response, () => {
      this.unsent -= 1;
      this.notify();
    });
    // A call that ends (cancel, deadline, lost connection) never drains: stop waiting then, or the handler's
    // generator would never be returned and what it holds (a program's terminal) never released.
    if (!roomy && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.call.off("drain", done);
          this.stopDrainWait = undefined;
          resolve();
        };
        this.stopDrainWait = done;
        this.call.once("drain", done);
      });
    }
    while (this.unsent >= MAX_UNSENT_RESPONSES && !this.closed) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The call is over: no write waits any more. */
  end(): void {
    this.closed = true;
    this.stopDrainWait?.();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function streamingHandler(facts: MethodFacts, impl: AnyHandler, hooks: RpcHooks): UntypedHandleCall {
  return (call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) => {
    const started = process.hrtime.bigint();
    const { context, done } = contextFor(call, facts, hooks.log);
    const bidi = facts.method.methodKind === "bidi_streaming";
    // Not `for await` on the call itself: a Readable's async iterator destroys the stream once the caller half-closes,
    // and for a duplex call that killed the answer too (an Exec whose caller half-closed after the spec hung).
    const input = bidi
      ? { [Symbol.asyncIterator]: () => (call as ServerDuplexStream<unknown, unknown>).iterator({ destroyOnReturn: false }) }
      : (call as ServerWritableStream<unknown, unknown>).request;
    if (!bidi) context.targets.push(...refTargets(input));
    let release = () => {};
    (async () => {
      release = await admit(call, facts, hooks, context);
      if (!bidi) await hooks.prepare?.(input, context);
      const window = new WriteWindow(call);
      context.signal.addEventListener("abort", () => window.end(), { once: true });
      for await (const response of impl(input, context) as AsyncIterable<unknown>) {
        await window.write(response);
        if (context.signal.aborted) throw context.signal.reason;
      }
    })().then(
      () => {
        release();
        finish(context, facts, hooks, started);
        call.end();
        done();
      },
      (err: unknown) => {
        release();
        const serviceError = finish(context, facts, hooks, started, err);
        if (!context.signal.aborted) call.emit("error", serviceError);
        done();
      },
    );
  };
}

/**
 * Registers a generated service on a grpc-js server. Every handler's return
 * becomes exactly one answer and every throw one status (through RpcError);
 * a method with no handler answers UNIMPLEMENTED.
 */
export function addService(server: Server, service: DescService, impl: Record<string, unknown>, hooks: RpcHooks): void {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = impl[method.localName] as AnyHandler | undefined;
    if (!handler) continue;
    const bound = handler.bind(impl) as AnyHandler;
    const facts = factsOf(method);
    const answersOnce = method.methodKind === "unary" || method.methodKind === "client_streaming";
    handlers[method.localName] = answersOnce ? unaryHandler(facts, bound, hooks) : streamingHandler(facts, bound, hooks);
  }
  server.addService(serverServiceDefinition(service), handlers);
}
