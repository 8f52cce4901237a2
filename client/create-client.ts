import { Client, credentials } from "@grpc/grpc-js";
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import { MountService } from "./gen/lxnsd/v1/mount_service_pb";
import { NamespaceService } from "./gen/lxnsd/v1/namespace_service_pb";
import { ProcessService } from "./gen/lxnsd/v1/process_service_pb";
import { defaultAddress } from "./default-address";
import { serviceClient } from "./rpc/service-client";
import type { ServiceClient } from "./rpc/service-client";

/** How to reach the daemon. */
export interface ClientOptions {
  /** Channel credentials; insecure (right for the unix socket) by default. */
  credentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
}

/**
 * A typed lxnsd client: every method of NamespaceService, ProcessService and
 * MountService (promises for unary calls, async iterables for streams), plus
 * disconnect(). Failed calls reject with LxnsdError.
 */
export type LxnsdClient = ServiceClient<typeof NamespaceService> &
  ServiceClient<typeof ProcessService> &
  ServiceClient<typeof MountService> & {
    /** Closes the channel (`close` is the Close RPC). */
    disconnect(): void;
  };

/** Connects to lxnsd at `address` (`unix:PATH` or `HOST:PORT`; default: the daemon's default listener). */
export function createClient(address: string = defaultAddress(), options: ClientOptions = {}): LxnsdClient {
  const channel = new Client(address, options.credentials ?? credentials.createInsecure(), options.channelOptions);
  return {
    ...serviceClient(channel, NamespaceService),
    ...serviceClient(channel, ProcessService),
    ...serviceClient(channel, MountService),
    disconnect: () => channel.close(),
  };
}
