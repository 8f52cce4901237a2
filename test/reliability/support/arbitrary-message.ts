import { ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";

/** Arbitraries that replace the generic one for a field, keyed by "<message type name>.<field name>" (e.g. "lxnsd.v1.NamespaceRef.pid"). */
export type FieldOverrides = Readonly<Record<string, fc.Arbitrary<unknown>>>;

const INT32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, 1, -1, 2 ** 31 - 1, -(2 ** 31)));
const UINT32 = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 1, 2 ** 32 - 1));
const INT64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)));
const UINT64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 64n - 1n));

/** Short text, any Unicode, NUL inside, and now and then a huge string. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}\0${b}`) },
  { weight: 1, arbitrary: fc.constantFrom("x".repeat(70_000), "/".repeat(5000), "é".repeat(300_000), "a/".repeat(3000)) },
);

const anyBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(200_000).fill(0x61)) },
);

function scalar(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return INT64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return UINT64;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return anyString;
    case ScalarType.BYTES:
      return anyBytes;
    default:
      return fc.double();
  }
}

/** A defined value, or any int32 (unknown to the enum, negative, huge). */
function enumValue(desc: DescEnum): fc.Arbitrary<number> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...desc.values.map((value) => value.number)) }, { weight: 1, arbitrary: INT32 });
}

function singular(field: DescField, depth: number, overrides: FieldOverrides): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field.scalar);
    case "enum":
      return enumValue(field.enum);
    case "message":
      return depth > 0 ? messageInit(field.message, depth - 1, overrides) : fc.constant(undefined);
    default:
      throw new Error(`no singular arbitrary for ${field.fieldKind} ${field.name}`);
  }
}

function element(field: DescField & { fieldKind: "list" }, depth: number, overrides: FieldOverrides): fc.Arbitrary<unknown> {
  switch (field.listKind) {
    case "scalar":
      return scalar(field.scalar);
    case "enum":
      return enumValue(field.enum);
    default:
      return depth > 0 ? messageInit(field.message, depth - 1, overrides) : fc.constant({});
  }
}

function fieldValue(field: DescField, depth: number, overrides: FieldOverrides): fc.Arbitrary<unknown> {
  const override = overrides[`${field.parent.typeName}.${field.name}`];
  if (override) return override;
  if (field.fieldKind === "list") {
    const item = element(field, depth, overrides);
    // Mostly a few elements; now and then many more than any caller would send.
    return fc.oneof({ weight: 8, arbitrary: fc.array(item, { maxLength: 5 }) }, { weight: 1, arbitrary: fc.array(item, { minLength: 50, maxLength: 400 }) });
  }
  if (field.fieldKind === "map") return fc.constant({});
  return singular(field, depth, overrides);
}

/**
 * An init object for `desc` (to pass to @bufbuild/protobuf's create) with
 * arbitrary values in every field: any int in range of the field's type,
 * enum numbers the schema does not define, strings with NUL or of hundreds
 * of kilobytes, long lists, any case of every oneof or none, messages nested
 * down to `depth` levels. Each field may also be left unset.
 */
export function messageInit(desc: DescMessage, depth = 4, overrides: FieldOverrides = {}): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const cases = member.fields.map((field) => fieldValue(field, depth, overrides).map((value) => ({ case: field.localName, value })));
      record[member.localName] = fc.oneof(fc.constant({ case: undefined }), ...cases);
    } else {
      record[member.localName] = fieldValue(member, depth, overrides);
    }
  }
  return fc.record(record, { requiredKeys: [] }).map((init) => Object.fromEntries(Object.entries(init).filter(([, value]) => value !== undefined)));
}
