import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../../api/gen/google/rpc/error_details_pb";
import { StatusSchema } from "../../api/gen/google/rpc/status_pb";
import { MAX_STATUS_MESSAGE, RpcError, asRpcError, fromErrno, toServiceError } from "../../server/errors";

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
