import type { Http2Session, ServerHttp2Stream } from "node:http2";

/** gRPC's length prefix: a compression flag byte, then the message length, 4 bytes big-endian. */
const PREFIX_BYTES = 5;

/**
 * What one connection may hold in request messages being received, all its
 * streams together. grpc-js assembles each message in memory until it is
 * whole, so without this a known caller could hold streams x message size on
 * every connection (64 half-sent 16 MiB messages: 1 GiB). Past the limit, a
 * stream in the middle of a message is paused: it stops reading, so HTTP/2
 * flow control holds its sender to one stream window (64 KiB). The stream
 * whose message began first is never paused, so some message always
 * completes and a connection cannot deadlock itself; each message that
 * completes (or stream that ends) lets paused ones go on, oldest first.
 */
export class ConnectionBudget {
  /** Bytes of incomplete messages counted on this connection. */
  held = 0;
  /** Meters in the middle of a message, in the order their messages began. */
  private readonly midMessage = new Set<StreamMeter>();
  private readonly paused: StreamMeter[] = [];

  constructor(readonly limitBytes: number) {}

  began(meter: StreamMeter): void {
    this.midMessage.add(meter);
  }

  /** METER's message completed or its stream ended: its BYTES are not held any more. */
  released(meter: StreamMeter, bytes: number): void {
    this.held -= bytes;
    this.midMessage.delete(meter);
    const at = this.paused.indexOf(meter);
    if (at >= 0) this.paused.splice(at, 1);
    this.wake();
  }

  /** Whether METER, in the middle of a message, must stop reading. */
  mustPause(meter: StreamMeter): boolean {
    return this.held > this.limitBytes && this.oldest() !== meter;
  }

  wait(meter: StreamMeter): void {
    this.paused.push(meter);
  }

  private oldest(): StreamMeter | undefined {
    return this.midMessage.values().next().value;
  }

  private wake(): void {
    while (this.paused.length > 0 && (this.held <= this.limitBytes || this.paused[0] === this.oldest())) {
      this.paused.shift()!.resume();
    }
  }
}

/**
 * Counts the bytes of the request message being received on one HTTP/2 stream
 * (by gRPC's length prefixes, beside grpc-js's own decoder) against its
 * connection's budget, and pauses the stream when the budget says so.
 */
export class StreamMeter {
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFilled = 0;
  private bodyLeft = 0;
  /** Bytes of the current incomplete message, prefix included. */
  private pending = 0;
  private done = false;
  private pausedByBudget = false;
  private deferredRead: (() => void) | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly budget: ConnectionBudget,
  ) {
    stream.on("data", (chunk: Buffer) => this.count(chunk));
    stream.once("close", () => this.finish());
  }

  /** grpc-js's next read (it would resume the stream) waits while the budget holds this stream paused. */
  startRead(read: () => void): void {
    if (this.pausedByBudget) this.deferredRead = read;
    else read();
  }

  /** The call ended (its status was sent, or it was cancelled): what it held is released, and nothing more is counted. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.pausedByBudget = false;
    this.deferredRead = undefined;
    this.budget.released(this, this.pending);
    this.pending = 0;
  }

  resume(): void {
    if (!this.pausedByBudget) return;
    this.pausedByBudget = false;
    const read = this.deferredRead;
    this.deferredRead = undefined;
    if (this.done) return;
    this.stream.resume();
    read?.();
  }

  private count(chunk: Buffer): void {
    if (this.done) return;
    let at = 0;
    while (at < chunk.length) {
      if (this.prefixFilled < PREFIX_BYTES) {
        if (this.prefixFilled === 0 && this.pending === 0) this.budget.began(this);
        const take = Math.min(PREFIX_BYTES - this.prefixFilled, chunk.length - at);
        chunk.copy(this.prefix, this.prefixFilled, at, at + take);
        this.prefixFilled += take;
        this.hold(take);
        at += take;
        if (this.prefixFilled === PREFIX_BYTES) {
          this.bodyLeft = this.prefix.readUInt32BE(1);
          if (this.bodyLeft === 0) this.completed();
        }
        continue;
      }
      const take = Math.min(this.bodyLeft, chunk.length - at);
      this.bodyLeft -= take;
      this.hold(take);
      at += take;
      if (this.bodyLeft === 0) this.completed();
    }
    if (this.pending > 0 && !this.pausedByBudget && this.budget.mustPause(this)) {
      this.pausedByBudget = true;
      this.stream.pause();
      this.budget.wait(this);
    }
  }

  private hold(bytes: number): void {
    this.pending += bytes;
    this.budget.held += bytes;
  }

  private completed(): void {
    const bytes = this.pending;
    this.pending = 0;
    this.prefixFilled = 0;
    this.budget.released(this, bytes);
  }
}

const budgets = new WeakMap<Http2Session, ConnectionBudget>();

/** The budget of STREAM's connection, made on first use. */
export function budgetOf(stream: ServerHttp2Stream, limitBytes: number): ConnectionBudget | undefined {
  const session = stream.session;
  if (!session) return undefined;
  let budget = budgets.get(session);
  if (!budget) {
    budget = new ConnectionBudget(limitBytes);
    budgets.set(session, budget);
  }
  return budget;
}
