import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The HTTP/2 path of a method, as every gRPC implementation spells it. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Whether the caller sends a stream of requests. */
export function clientStreams(method: DescMethod): boolean {
  return method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
}

/** Whether the server answers with a stream of responses. */
export function serverStreams(method: DescMethod): boolean {
  return method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
}

/**
 * Turns one method descriptor made by protoc-gen-es into a grpc-js method
 * definition that (de)serializes with @bufbuild/protobuf. Responses may be
 * given as init objects; they are completed with `create` before encoding.
 */
export function methodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  type In = MessageShape<typeof method.input>;
  type Out = MessageShape<typeof method.output>;
  return {
    path: methodPath(method),
    requestStream: clientStreams(method),
    responseStream: serverStreams(method),
    originalName: method.localName,
    requestSerialize: (msg) => asBuffer(toBinary(method.input, create(method.input, msg as In))),
    requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
    responseSerialize: (msg) => asBuffer(toBinary(method.output, create(method.output, msg as Out))),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
  };
}

/** The same bytes as a Buffer, not a copy (Buffer.from of a Uint8Array copies: a second 64 KiB per Exec chunk). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A grpc-js ServiceDefinition for a whole generated service, keyed by each method's localName. */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method);
  return definition as ServiceDefinition;
}
