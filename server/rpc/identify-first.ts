import { ServerInterceptingCall, status } from "@grpc/grpc-js";
import type { ServerInterceptor } from "@grpc/grpc-js";
import { asRpcError, toServiceError } from "../errors";
import type { RpcError } from "../errors";
import type { CallCredentials, CallGate } from "./add-service";

/** What is told of a call refused at its headers: "/package.Service/Method", its credentials (the peer), the error. */
export type EarlyRefusal = (path: string, call: CallCredentials, error: RpcError) => void;

/**
 * A server interceptor that identifies every call from its headers (a bearer
 * token, the connection's certificate or unix peer) and answers one that names
 * nobody UNAUTHENTICATED there: grpc-js starts reading a call's message only
 * once its headers are passed on, so an unknown caller never gets a message
 * buffered (a half-sent 16 MiB one per stream was the way to exhaust the
 * daemon's memory). The handler identifies the call again, for its scope.
 */
export function identifyFirst(gate: CallGate, refused: EarlyRefusal): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, passOn) => {
            const credentials: CallCredentials = { metadata, getPeer: () => call.getPeer(), getAuthContext: () => call.getAuthContext() };
            try {
              gate.identify(credentials);
            } catch (err) {
              const error = asRpcError(err);
              refused(method.path, credentials, error);
              const answer = toServiceError(error);
              call.sendStatus({ code: answer.code ?? status.UNAUTHENTICATED, details: answer.details ?? error.message, metadata: answer.metadata ?? null });
              return;
            }
            passOn(metadata);
          },
        }),
    });
}
