import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { durationMs } from "../../server/rpc/durations";

const duration = (seconds: bigint, nanos: number) => create(DurationSchema, { seconds, nanos });

describe("durationMs", () => {
  it("is whole milliseconds, rounded up (a fraction made a handle's expires_at unencodable: INTERNAL)", () => {
    expect(durationMs(duration(1n, 1), "lease")).toBe(1001);
    expect(durationMs(duration(0n, 500_000_000), "lease")).toBe(500);
    expect(durationMs(undefined, "lease")).toBeUndefined();
  });

  it("refuses nanos outside Duration's range and negative durations with INVALID_ARGUMENT", () => {
    for (const bad of [duration(0n, 2147483647), duration(0n, 1_000_000_000), duration(-1n, 0)]) {
      expect(() => durationMs(bad, "lease")).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT }));
    }
  });
});
