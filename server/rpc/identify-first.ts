import { ServerInterceptingCall, status } from "@grpc/grpc-js";
import type { ServerInterceptingCallInterface, ServerInterceptor } from "@grpc/grpc-js";
import type { ServerHttp2Stream } from "node:http2";
import { asRpcError, toServiceError } from "../errors";
import type { RpcError } from "../errors";
import type { CallCredentials, CallGate } from "./add-service";
import { StreamMeter, budgetOf } from "./receive-budget";

/** What is told of a call refused at its headers: "/package.Service/Method", its credentials (the peer), the error. */
export type EarlyRefusal = (path: string, call: CallCredentials, error: RpcError) => void;

/** A call whose reads wait while its connection's receive budget holds its stream paused. */
class MeteredCall extends ServerInterceptingCall {
  meter: StreamMeter | undefined;

  override startRead(): void {
    if (this.meter) this.meter.startRead(() => super.startRead());
    else super.startRead();
  }
}

/**
 * grpc-js's own call for CALL (the first interceptor is handed it): its HTTP/2
 * stream is not public API, so this checks what it finds, and the daemon's
 * tests fail if a grpc-js update moves it.
 */
function streamOf(call: ServerInterceptingCallInterface): ServerHttp2Stream | undefined {
  const stream = (call as unknown as { stream?: ServerHttp2Stream }).stream;
  return stream && typeof stream.pause === "function" && typeof stream.on === "function" ? stream : undefined;
}

/**
 * A server interceptor that identifies every call from its headers (a bearer
 * token, the connection's certificate or unix peer) and answers one that names
 * nobody UNAUTHENTICATED there: grpc-js starts reading a call's message only
 * once its headers are passed on, so an unknown caller never gets a message
 * buffered (a half-sent 16 MiB one per stream was the way to exhaust the
 * daemon's memory). A known caller's messages count against its connection's
 * receive budget (receive-budget.ts) while they arrive. The handler identifies
 * the call again, for its scope.
 */
export function identifyFirst(gate: CallGate, refused: EarlyRefusal, receiveLimitBytes: number): ServerInterceptor {
  return (method, call) => {
    const stream = streamOf(call);
    const metered: MeteredCall = new MeteredCall(call, {
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
            const budget = stream && budgetOf(stream, receiveLimitBytes);
            if (stream && budget) metered.meter = new StreamMeter(stream, budget);
            passOn(metadata);
          },
          onCancel: () => metered.meter?.finish(),
        }),
      sendStatus: (statusObject, next) => {
        metered.meter?.finish();
        next(statusObject);
      },
    });
    return metered;
  };
}
