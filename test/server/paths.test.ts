import { status } from "@grpc/grpc-js";
import { anyBeneath, checkAbsolutePath, deepestRoot, isAbsoluteNormalized, isBeneath } from "../../server/rpc/paths";

describe("server/rpc/paths: the one absolute-path check and the one path-under-root check", () => {
  it.each([
    ["/", true],
    ["/proc/1/ns/net", true],
    ["/srv/", true], // normal form keeps a trailing slash
    ["relative", false],
    ["", false],
    ["//x", false],
    ["/a/./b", false],
    ["/a/../b", false],
    ["/a//b", false],
  ])("isAbsoluteNormalized(%j) is %s", (value, expected) => {
    expect(isAbsoluteNormalized(value)).toBe(expected);
  });

  it("checkAbsolutePath: INVALID_ARGUMENT naming the field, the value only when asked", () => {
    expect(() => checkAbsolutePath("/ok", "f")).not.toThrow();
    expect(() => checkAbsolutePath(`/${"x".repeat(4095)}`, "f")).not.toThrow();
    expect(() => checkAbsolutePath(`/${"x".repeat(4096)}`, "f")).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT, message: "f: must be an absolute, normalized path" }));
    expect(() => checkAbsolutePath("/a\0b", "ref.path")).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT, message: "ref.path: contains a NUL byte" }));
    expect(() => checkAbsolutePath("a/b", "source", { quote: true })).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT, message: 'source: must be an absolute, normalized path, got "a/b"' }));
  });

  it.each([
    ["/srv/a", "/srv", true],
    ["/srv", "/srv", true],
    ["/srvx", "/srv", false],
    ["/srv/a", "/srv/", true],
    ["/srv", "/srv/", false], // a root written with "/" holds only what is strictly beneath it
    ["/anything", "/", true],
    ["/", "/", true],
    ["/etc", "/srv", false],
  ])("isBeneath(%j, %j) is %s", (value, root, expected) => {
    expect(isBeneath(value, root)).toBe(expected);
  });

  it("deepestRoot picks the deepest root holding the value; anyBeneath is any value under any root", () => {
    expect(deepestRoot("/srv/a/b", ["/", "/srv", "/srv/a", "/srv/ab"])).toBe("/srv/a");
    expect(deepestRoot("/etc", ["/srv", "/var"])).toBeUndefined();
    expect(anyBeneath(["/a/x", "/b"], ["/c", "/b"])).toBe(true);
    expect(anyBeneath(["/a/x"], ["/ab"])).toBe(false);
  });
});
