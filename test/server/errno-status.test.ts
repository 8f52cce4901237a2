import { readFile } from "node:fs/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../../api/gen/google/rpc/error_details_pb";
import { StatusSchema } from "../../api/gen/google/rpc/status_pb";
import * as native from "../../native/lib";
import { MAX_STATUS_MESSAGE, RpcError, asRpcError, fromErrno, nativeCall, toServiceError } from "../../server/errors";

const errno = (code: string, syscall = "setns", step?: string) => Object.assign(new Error(`${syscall}: ${code}`), { code, syscall, step });

describe("errno → status (DESIGN.md, Errors)", () => {
  it.each([
    ["ESRCH", status.NOT_FOUND],
    ["ENOENT", status.NOT_FOUND],
    ["EINVAL", status.FAILED_PRECONDITION],
    ["EROFS", status.FAILED_PRECONDITION],
    ["EPERM", status.PERMISSION_DENIED],
    ["EACCES", status.PERMISSION_DENIED],
    ["EMFILE", status.RESOURCE_EXHAUSTED],
    ["ENFILE", status.RESOURCE_EXHAUSTED],
    ["ENOSPC", status.RESOURCE_EXHAUSTED],
    ["ENOSYS", status.UNIMPLEMENTED],
    ["EOPNOTSUPP", status.UNIMPLEMENTED],
    ["ETIMEDOUT", status.DEADLINE_EXCEEDED],
    ["ECANCELED", status.CANCELLED],
    ["EIO", status.INTERNAL],
  ])("%s is %s", (code, expected) => {
    const err = fromErrno(errno(code), "join");
    expect(err.code).toBe(expected);
    expect(err.reason).toBe(code);
    expect(err.message).toContain(code);
    expect(err.message).toContain("setns");
  });

  it("an override changes one errno's meaning for one operation", () => {
    expect(fromErrno(errno("EINVAL", "write"), "write sysctl", { EINVAL: status.INVALID_ARGUMENT }).code).toBe(status.INVALID_ARGUMENT);
  });

  it("a per-request child that died under the daemon (killed from outside) is ABORTED, not INTERNAL or NOT_FOUND", () => {
    expect(fromErrno(errno("ECHILD", "waitid", "child died: signal 9"), "unshare user").code).toBe(status.ABORTED);
    expect(fromErrno(errno("ESRCH", "write(uid_map)", "write uid_map"), "unshare user").code).toBe(status.ABORTED);
    expect(fromErrno(errno("ENOENT", "open", "open ns"), "unshare net").code).toBe(status.ABORTED);
    // The same errnos from the caller's own targets keep their meaning.
    expect(fromErrno(errno("ESRCH", "setns", "setns pid"), "join").code).toBe(status.NOT_FOUND);
  });

  it("sends the errno, syscall and step in an ErrorInfo of domain lxnsd", () => {
    const serviceError = toServiceError(fromErrno(errno("ENOSPC", "unshare", "unshare"), "unshare net"));
    expect(serviceError.code).toBe(status.RESOURCE_EXHAUSTED);
    const details = fromBinary(StatusSchema, serviceError.metadata!.get("grpc-status-details-bin")[0] as Buffer);
    expect(details.code).toBe(status.RESOURCE_EXHAUSTED);
    const info = anyUnpack(details.details[0], ErrorInfoSchema);
    expect(info).toMatchObject({ reason: "ENOSPC", domain: "lxnsd", metadata: { errno: "ENOSPC", syscall: "unshare", step: "unshare" } });
  });

  it("a status message is cut to MAX_STATUS_MESSAGE characters (a long one could not be sent)", () => {
    const serviceError = toServiceError(new RpcError(status.INVALID_ARGUMENT, `name: ${"x".repeat(70000)}`));
    expect(serviceError.details!.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
    const details = fromBinary(StatusSchema, serviceError.metadata!.get("grpc-status-details-bin")[0] as Buffer);
    expect(details.message).toBe(serviceError.details);
  });

  it("anything else is INTERNAL", () => {
    expect(asRpcError(new TypeError("boom")).code).toBe(status.INTERNAL);
    expect(asRpcError("text").code).toBe(status.INTERNAL);
  });
});

describe("nativeCall: one call into the addon or fs, its syscall failure as a status", () => {
  it("returns what the call returns", async () => {
    expect(nativeCall("read", () => 42)).toBe(42);
    await expect(nativeCall("read", () => Promise.resolve("text"))).resolves.toBe("text");
  });

  it("a real syscall failure (the addon's open of a missing file) is NOT_FOUND, saying what was done", () => {
    const missing = `/proc/self/ns/no-such-${process.pid}`;
    let caught: unknown;
    try {
      nativeCall(`open ${missing}`, () => native.openPath(missing));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RpcError);
    expect((caught as RpcError).code).toBe(status.NOT_FOUND);
    expect((caught as RpcError).reason).toBe("ENOENT");
    expect((caught as RpcError).message).toMatch(new RegExp(`^open ${missing}: `));
  });

  it("a rejected promise (Node's fs) is mapped the same way, with the overrides", async () => {
    const missing = `/proc/self/no-such-${process.pid}`;
    const rejected = nativeCall(`read ${missing}`, () => readFile(missing), { ENOENT: status.FAILED_PRECONDITION });
    await expect(rejected).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, reason: "ENOENT" });
  });

  it("anything that is not a syscall failure is thrown as it is", async () => {
    const own = new RpcError(status.INVALID_ARGUMENT, "bad");
    const bug = new TypeError("boom");
    expect(() =>
      nativeCall("x", () => {
        throw own;
      }),
    ).toThrow(own);
    expect(() =>
      nativeCall("x", () => {
        throw bug;
      }),
    ).toThrow(bug);
    await expect(nativeCall("x", () => Promise.reject(bug))).rejects.toBe(bug);
  });
});
