import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { Metadata } from "@grpc/grpc-js";
import type { Level, Logger } from "pino";
import type { Caller } from "../auth/caller";
import type { AuditDetails } from "./audit";

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Aborted when the caller cancels, the deadline passes or the connection goes away. */
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
  readonly peer: string;
  readonly method: string;
  /** This call's id, in its log and audit lines. */
  readonly callId: string;
  /** Who calls, as the policy saw it; set before the handler runs. */
  readonly caller: Caller;
  /** What the call touches, for its audit line ("net pid=123", "handle=h-…"); handlers may add to it. */
  readonly targets: string[];
  /** The rest of what it touches for its audit line (argv, created types, bind source, pin, handles); handlers may add to it. */
  readonly audit: AuditDetails;
  /** A logger carrying this call's id, method and caller. */
  log: Logger;
  /**
   * Whether a line at `level` would print, asked without making the call's
   * logger: a pino child (made when `log` is first read) costs more than a
   * Run's line at a level that does not print, so call sites that log on
   * every call ask this first.
   */
  logs(level: Level): boolean;
  /**
   * Keeps the call's child slot (if its method takes one) taken until the
   * returned function is called, even after the call has answered: work
   * the call started that may outlive it (a file operation stuck on a hung
   * mount) counts against --max-children while it runs.
   */
  holdSlot(): () => void;
}

/** What work a call started off the event loop answers to (file operations): the call's signal, and its slot. */
export type SlotCall = Pick<CallContext, "signal" | "holdSlot">;

type Unary<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

type ServerStreaming<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

type ClientStreaming<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

type BidiStreaming<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** The handler type of one method, derived from its descriptor. */
export type MethodImpl<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? Unary<I, O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreaming<I, O>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreaming<I, O>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BidiStreaming<I, O>
        : never;

/**
 * The implementation of a generated service: one handler per method, keyed
 * by localName. Methods left out answer UNIMPLEMENTED.
 */
export type ServiceImpl<S> = S extends GenService<infer R extends GenServiceMethods>
  ? { [K in keyof R]?: MethodImpl<R[K]> }
  : never;
