import { ScalarType, create, toBinary } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { serviceDefinition } from "../../api/method-definitions";

/** Largest message encoded into the shared scratch buffer (Exec chunks are ≤ 64 KiB). */
const SCRATCH_LIMIT = 1024 * 1024;
let scratch = Buffer.allocUnsafe(64 * 1024 + 16);

/**
 * The grpc-js service definition the server registers: as the client's,
 * but a response that is one bytes field of a oneof (Exec's stdout and
 * stderr chunks) is encoded into a scratch buffer reused by every call.
 * grpc-js copies what the serializer returns into the framed message before
 * serializeMessage returns (server responses are never compressed), so the
 * scratch is free again at once: a 64 KiB chunk costs one allocation (that
 * frame) instead of two, which is what 64 concurrent streams' RSS feels.
 */
export function serverServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = { ...serviceDefinition(service) };
  for (const method of service.methods) {
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
