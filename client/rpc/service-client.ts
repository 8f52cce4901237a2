import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { Client, ClientReadableStream, ServiceError } from "@grpc/grpc-js";
import { toLxnsdError } from "../lxnsd-error";
import { grpcOptions, onAbort } from "./call-options";
import type { CallOptions } from "./call-options";
import { methodDefinition } from "../../api/method-definitions";

type UnaryFn<I extends DescMessage, O extends DescMessage> = (request?: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>;
type ServerStreamFn<I extends DescMessage, O extends DescMessage> = (request?: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>;
type ClientStreamFn<I extends DescMessage, O extends DescMessage> = (requests: AsyncIterable<MessageInitShape<I>>, options?: CallOptions) => Promise<MessageShape<O>>;
type BidiFn<I extends DescMessage, O extends DescMessage> = (requests: AsyncIterable<MessageInitShape<I>>, options?: CallOptions) => AsyncIterable<MessageShape<O>>;

/** The client function of one method, derived from its descriptor. */
export type MethodClient<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryFn<I, O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamFn<I, O>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreamFn<I, O>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BidiFn<I, O>
        : never;

/** A typed client of one generated service: one function per method, keyed by localName. */
export type ServiceClient<S> = S extends GenService<infer R extends GenServiceMethods> ? { [K in keyof R]: MethodClient<R[K]> } : never;

async function* readAll<T>(stream: ClientReadableStream<T>): AsyncIterable<T> {
  try {
    for await (const message of stream) yield message as T;
  } catch (err) {
    throw toLxnsdError(err);
  } finally {
    stream.cancel();
  }
}

function unary(client: Client, method: DescMethod): UnaryFn<DescMessage, DescMessage> {
  const def = methodDefinition(method);
  return (request = {}, options) =>
    new Promise((resolve, reject) => {
      const { metadata, call } = grpcOptions(options);
      const pending = client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, metadata, call, (err: ServiceError | null, response) =>
        err ? reject(toLxnsdError(err)) : resolve(response as MessageShape<DescMessage>),
      );
      onAbort(options?.signal, () => pending.cancel());
    });
}

function serverStream(client: Client, method: DescMethod): ServerStreamFn<DescMessage, DescMessage> {
  const def = methodDefinition(method);
  return (request = {}, options) => {
    const { metadata, call } = grpcOptions(options);
    const stream = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, request, metadata, call);
    onAbort(options?.signal, () => stream.cancel());
    return readAll(stream as ClientReadableStream<MessageShape<DescMessage>>);
  };
}

/** Sends `requests` with backpressure (waits for "drain"), then half-closes; resolves to the one answer. */
function clientStream(client: Client, method: DescMethod): ClientStreamFn<DescMessage, DescMessage> {
  const def = methodDefinition(method);
  return (requests, options) =>
    new Promise((resolve, reject) => {
      const { metadata, call } = grpcOptions(options);
      const stream = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, call, (err: ServiceError | null, response) =>
        err ? reject(toLxnsdError(err)) : resolve(response as MessageShape<DescMessage>),
      );
      onAbort(options?.signal, () => stream.cancel());
      (async () => {
        for await (const request of requests) {
          if (!stream.write(request)) await new Promise((resolve) => stream.once("drain", resolve));
        }
        stream.end();
      })().catch((err: unknown) => {
        stream.cancel();
        reject(err);
      });
    });
}

function bidi(client: Client, method: DescMethod): BidiFn<DescMessage, DescMessage> {
  const def = methodDefinition(method);
  return (requests, options) => {
    const { metadata, call } = grpcOptions(options);
    const stream = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, call);
    onAbort(options?.signal, () => stream.cancel());
    (async () => {
      for await (const request of requests) {
        if (!stream.write(request)) await new Promise((resolve) => stream.once("drain", resolve));
      }
      stream.end();
    })().catch(() => stream.cancel());
    return readAll(stream as unknown as ClientReadableStream<MessageShape<DescMessage>>);
  };
}

/** Builds the typed client of `service` on top of a grpc-js channel. */
export function serviceClient<S extends DescService>(client: Client, service: S): ServiceClient<S> {
  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind === "unary") methods[method.localName] = unary(client, method);
    else if (method.methodKind === "server_streaming") methods[method.localName] = serverStream(client, method);
    else if (method.methodKind === "client_streaming") methods[method.localName] = clientStream(client, method);
    else if (method.methodKind === "bidi_streaming") methods[method.localName] = bidi(client, method);
  }
  return methods as ServiceClient<S>;
}
