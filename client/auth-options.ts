import { InterceptingCall, credentials } from "@grpc/grpc-js";
import type { ChannelCredentials, Interceptor } from "@grpc/grpc-js";

/** TLS to a TCP listener (PEM contents): the CA that signed the daemon's certificate, and this client's certificate for mutual TLS. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The name the daemon's certificate is checked against, when it differs from the address's host. */
  serverName?: string;
}

/** Channel credentials: TLS when asked for, insecure otherwise (right for the unix socket). */
export function channelCredentials(tls: TlsOptions | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/**
 * Sends `authorization: Bearer TOKEN` with every call. An interceptor rather
 * than call credentials, which grpc-js sends only over TLS: the unix socket
 * and an --insecure-loopback listener take tokens too.
 */
export function bearerToken(token: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}
