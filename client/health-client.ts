import type { Client, ServiceError } from "@grpc/grpc-js";
import { toLxnsdError } from "./lxnsd-error";
import { grpcOptions, onAbort } from "./rpc/call-options";
import type { CallOptions } from "./rpc/call-options";

/** A grpc.health.v1 serving status. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/**
 * grpc.health.v1.Health/Check on `channel`: resolves to the serving status of
 * `service` ("" = the daemon as a whole, or a full name such as
 * "lxnsd.v1.ProcessService"); a name the daemon does not know rejects with
 * NOT_FOUND. The method definition (and its proto) is grpc-health-check's,
 * loaded on first use so that importing the client stays cheap.
 */
export function healthFunction(channel: Client): (service?: string, options?: CallOptions) => Promise<ServingStatus> {
  return async (service = "", options) => {
    const { service: health } = await import("grpc-health-check");
    const check = health.Check;
    return new Promise((resolve, reject) => {
      const { metadata, call } = grpcOptions(options);
      const pending = channel.makeUnaryRequest(check.path, check.requestSerialize, check.responseDeserialize, { service }, metadata, call, (err: ServiceError | null, response) =>
        err ? reject(toLxnsdError(err)) : resolve((response as { status: ServingStatus }).status),
      );
      onAbort(options?.signal, () => pending.cancel());
    });
  };
}
