import { status } from "@grpc/grpc-js";
import { RpcError } from "../errors";

/** Options of the child limiter, from the daemon's configuration. */
export interface ChildSlotsOptions {
  /** Most calls running a child (a program or a per-request child) at once. */
  maxChildren: number;
  /** Most calls waiting for a slot; beyond it RESOURCE_EXHAUSTED. */
  maxQueue: number;
}

interface Waiter {
  grant: () => void;
}

/**
 * Bounds the calls that run children: up to maxChildren at once, up to
 * maxQueue more waiting in order, the rest refused with RESOURCE_EXHAUSTED.
 * A waiter whose call is cancelled leaves the queue.
 */
export class ChildSlots {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly options: ChildSlotsOptions) {}

  /** Calls holding a slot. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once a slot is free; rejects when the queue is full or `signal` aborts. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.running < this.options.maxChildren && this.queue.length === 0) {
      this.running += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new RpcError(status.RESOURCE_EXHAUSTED, `too many programs and children: ${this.running} running, ${this.queue.length} waiting (--max-children ${this.options.maxChildren}, --max-queue ${this.options.maxQueue})`, "CHILD_LIMIT"),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          this.running += 1;
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      const next = this.queue.shift();
      if (next) next.grant();
    };
  }
}

/** The methods whose calls run a child ("Service/Method"): they take a slot for their whole call. */
export const CHILD_METHODS: ReadonlySet<string> = new Set([
  "ProcessService/Run",
  "ProcessService/Exec",
  "NamespaceService/Unshare",
  "NamespaceService/GetLimit",
  "NamespaceService/SetLimit",
  "MountService/BindMount",
]);
