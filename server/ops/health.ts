import type { Server } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

/**
 * grpc.health.v1.Health for the daemon: the overall status ("") and one per
 * lxnsd.v1 service, all NOT_SERVING until the listeners are bound, SERVING
 * while the daemon serves, NOT_SERVING again once it drains for shutdown.
 */
export class DaemonHealth {
  private readonly impl: HealthImplementation;
  private readonly names: string[];

  constructor(serviceNames: string[]) {
    this.names = ["", ...serviceNames];
    this.impl = new HealthImplementation(Object.fromEntries(this.names.map((name) => [name, "NOT_SERVING" as const])));
  }

  addTo(server: Server): void {
    this.impl.addToServer(server);
  }

  /** Sets every name to `serving` or not; Watch callers are told at once. */
  set(serving: boolean): void {
    for (const name of this.names) this.impl.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  }
}
