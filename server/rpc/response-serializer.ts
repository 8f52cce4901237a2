import { ScalarType, create, toBinary } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { serviceDefinition } from "../../api/method-definitions";
import { chunkFramed } from "./young-gc";

/** Largest message encoded into the shared scratch buffer (Exec and ReadFile chunks are ≤ 64 KiB). */
const SCRATCH_LIMIT = 1024 * 1024;
let scratch = Buffer.allocUnsafe(64 * 1024 + 16);

/**
 * The grpc-js service definition the server registers: as the client's,
 * but a response that is one bytes field of a oneof (Exec's stdout and
 * stderr chunks), or of a message of that one field (ReadFileResponse), is
 * framed by hand into a scratch buffer reused by every call: protobuf-es's
 * writer grew and copied a buffer per 64 KiB chunk, most of the daemon's
 * CPU time in ReadFile beyond grpc-js's own.
 * grpc-js copies what the serializer returns into the framed message before
 * serializeMessage returns (server responses are never compressed), so the
 * scratch is free again at once: a 64 KiB chunk costs one allocation (that
 * frame) instead of two, which is what 64 concurrent streams' RSS feels.
 * Those frames are freed by young-generation collections paced by the bytes
 * framed here (young-gc.ts).
 */
export function serverServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = { ...serviceDefinition(service) };
  for (const method of service.methods) {
    const only = onlyBytesField(method.output);
    if (only) {
      const output = method.output;
      definition[method.localName] = {
        ...definition[method.localName],
        responseSerialize: (msg: unknown) => {
          const value = (msg as Record<string, unknown>)[only.localName];
          if (value instanceof Uint8Array && value.byteLength <= SCRATCH_LIMIT && (msg as { $unknown?: unknown[] }).$unknown === undefined) {
            // proto3 leaves an empty bytes field out: the empty message.
            return value.byteLength === 0 ? EMPTY : encodeBytesField(only, value);
          }
          const bytes = toBinary(output, create(output, msg as MessageShape<typeof output>));
          return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        },
      };
      continue;
    }
    const chunk = bytesOneof(method.output);
    if (!chunk) continue;
    const output = method.output;
    definition[method.localName] = {
      ...definition[method.localName],
      responseSerialize: (msg: unknown) => {
        const selected = (msg as Record<string, { case?: string; value?: unknown }>)[chunk.oneof];
        const field = selected?.case === undefined ? undefined : chunk.fields.get(selected.case);
        if (field && selected.value instanceof Uint8Array && selected.value.byteLength <= SCRATCH_LIMIT) return encodeBytesField(field, selected.value);
        const bytes = toBinary(output, create(output, msg as MessageShape<typeof output>));
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
    };
  }
  return definition as ServiceDefinition;
}

const EMPTY = Buffer.alloc(0);

/** A message whose one field is a plain (implicit presence) bytes field: that field. */
function onlyBytesField(message: DescMessage): DescField | undefined {
  if (message.fields.length !== 1 || message.oneofs.length !== 0) return undefined;
  const field = message.fields[0];
  return field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES && field.presence === FeatureSet_FieldPresence.IMPLICIT ? field : undefined;
}

/** A message made of one oneof only, with bytes members: its oneof's name and those members by localName. */
function bytesOneof(message: DescMessage): { oneof: string; fields: Map<string, DescField> } | undefined {
  if (message.oneofs.length !== 1 || message.fields.length !== message.oneofs[0].fields.length) return undefined;
  const fields = new Map<string, DescField>();
  for (const field of message.oneofs[0].fields) {
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES) fields.set(field.localName, field);
  }
  return fields.size > 0 ? { oneof: message.oneofs[0].localName, fields } : undefined;
}

/** tag (wire type 2), length, bytes: the whole encoding of a message with only this field set, in `scratch`. */
function encodeBytesField(field: DescField, value: Uint8Array): Buffer {
  const size = 10 + 5 + value.byteLength;
  if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
  let at = writeVarint(scratch, 0, field.number * 8 + 2);
  at = writeVarint(scratch, at, value.byteLength);
  scratch.set(value, at);
  chunkFramed(value.byteLength);
  return scratch.subarray(0, at + value.byteLength);
}

function writeVarint(buffer: Buffer, at: number, value: number): number {
  while (value > 0x7f) {
    buffer[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[at++] = value;
  return at;
}
