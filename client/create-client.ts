import { Client } from "@grpc/grpc-js";
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import { bearerToken, channelCredentials } from "./auth-options";
import type { TlsOptions } from "./auth-options";
import { ContainerService } from "../api/gen/lxnsd/v1/container_service_pb";
import { MountService } from "../api/gen/lxnsd/v1/mount_service_pb";
import { FileService } from "../api/gen/lxnsd/v1/file_service_pb";
import { NamespaceService } from "../api/gen/lxnsd/v1/namespace_service_pb";
import { defaultAddress } from "../api/default-address";
import { healthFunction } from "./health-client";
import { execFunction, runFunction } from "./process-client";
import { serviceClient } from "./rpc/service-client";
import type { ServiceClient } from "./rpc/service-client";

/** How to reach the daemon. */
export interface ClientOptions {
  /** TLS to a TCP listener; without it (and without `credentials`) the channel is insecure, right for the unix socket. */
  tls?: TlsOptions;
  /** A bearer token the daemon's policy knows, sent with every call. */
  token?: string;
  /** Channel credentials of your own; they win over `tls`. */
  credentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
}

/**
 * A typed lxnsd client: every method of NamespaceService, ProcessService,
 * MountService, FileService and ContainerService (promises for unary calls, async iterables for streams), plus
 * disconnect(). Failed calls reject with LxnsdError.
 */
export type LxnsdClient = ServiceClient<typeof NamespaceService> &
  ServiceClient<typeof MountService> &
  ServiceClient<typeof FileService> &
  ServiceClient<typeof ContainerService> & {
    /** Runs a program to completion (ProcessService.Run): its output and exit status. */
    run: ReturnType<typeof runFunction>;
    /** Runs a program with streamed stdio (ProcessService.Exec). */
    exec: ReturnType<typeof execFunction>;
    /** grpc.health.v1 Check: the serving status of the daemon ("") or of one lxnsd.v1 service. */
    checkHealth: ReturnType<typeof healthFunction>;
    /** Closes the channel (`close` is the Close RPC). */
    disconnect(): void;
  };

/** Connects to lxnsd at `address` (`unix:PATH` or `HOST:PORT`; default: the daemon's default listener). */
export function createClient(address: string = defaultAddress(), options: ClientOptions = {}): LxnsdClient {
  // Run answers may carry up to 2 × 16 MiB of output.
  const channelOptions = {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    // Per-call channelz bookkeeping that nothing here reads.
    "grpc.enable_channelz": 0,
    // HTTP/2's default 64 KiB window lets the daemon send one Exec chunk per window update: a round trip each.
    // 128 KiB (per stream and for the connection) took a 256 MiB Exec from 139-155 to 237 MB/s here. 1 MiB took
    // a 256 MiB ReadFile from 0.64x to 0.95x of `nsenter head` (bench:files), with the daemon's peak RSS under 64
    // concurrent 16 MiB Execs unchanged (137-138 MiB): the daemon still holds at most two chunks per stream
    // (add-service.ts WriteWindow); what the window lets through waits in the socket and in this process.
    "grpc-node.flow_control_window": 1024 * 1024,
    ...(options.tls?.serverName ? { "grpc.ssl_target_name_override": options.tls.serverName, "grpc.default_authority": options.tls.serverName } : {}),
    ...options.channelOptions,
    ...(options.token !== undefined ? { interceptors: [bearerToken(options.token)] } : {}),
  };
  const channel = new Client(address, options.credentials ?? channelCredentials(options.tls), channelOptions);
  return {
    ...serviceClient(channel, NamespaceService),
    run: runFunction(channel),
    exec: execFunction(channel),
    ...serviceClient(channel, MountService),
    ...serviceClient(channel, FileService),
    ...serviceClient(channel, ContainerService),
    checkHealth: healthFunction(channel),
    disconnect: () => channel.close(),
  };
}
