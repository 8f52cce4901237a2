import { status } from "@grpc/grpc-js";
import { RpcError } from "../errors";

/** Options of the child limiter, from the daemon's configuration. */
export interface ChildSlotsOptions {
  /** Most calls running a child (a program or a per-request child) at once. */
  maxChildren: number;
  /** Most calls waiting for a slot, all identities together; beyond it RESOURCE_EXHAUSTED. */
  maxQueue: number;
}

interface Waiter {
  grant: () => void;
  refuse: (err: RpcError) => void;
}

/** One identity's share: its running slots, its waiters in order, when it was last granted a slot. */
interface Share {
  running: number;
  queue: Waiter[];
  lastGrant: number;
}

/**
 * Bounds the calls that run children: up to maxChildren at once, up to
 * maxQueue more waiting, the rest refused with RESOURCE_EXHAUSTED. Shared
 * fairly between identities (the caller's key): each identity waits in a
 * queue of its own, in order, and a freed slot goes to the identity with
 * waiters that runs the fewest slots, ties to the one granted least
 * recently (round-robin). A full queue makes room for an identity with
 * fewer waiters than the longest queue by refusing that queue's newest
 * waiter: one identity cannot take every place. A waiter whose call is
 * cancelled leaves its queue.
 */
export class ChildSlots {
  private running = 0;
  private queued = 0;
  private grants = 0;
  private readonly shares = new Map<string, Share>();

  constructor(private readonly options: ChildSlotsOptions) {}

  /** Calls holding a slot. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.queued;
  }

  /**
   * Resolves with a release function once a slot is free for `key` (the
   * caller's identity); rejects when the queue is full or `signal` aborts.
   */
  acquire(signal: AbortSignal, key = ""): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const share = this.shareOf(key);
    if (this.running < this.options.maxChildren && this.queued === 0) {
      this.take(share);
      return Promise.resolve(this.releaser(key, share));
    }
    if (this.queued >= this.options.maxQueue && !this.pushOutFor(share)) {
      this.forget(key, share);
      return Promise.reject(this.full());
    }
    return new Promise((resolve, reject) => {
      const leave = () => {
        signal.removeEventListener("abort", onAbort);
        share.queue.splice(share.queue.indexOf(waiter), 1);
        this.queued -= 1;
      };
      const waiter: Waiter = {
        grant: () => {
          leave();
          this.take(share);
          resolve(this.releaser(key, share));
        },
        refuse: (err) => {
          leave();
          this.forget(key, share);
          reject(err);
        },
      };
      const onAbort = () => {
        leave();
        this.forget(key, share);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      share.queue.push(waiter);
      this.queued += 1;
    });
  }

  private shareOf(key: string): Share {
    let share = this.shares.get(key);
    if (!share) {
      share = { running: 0, queue: [], lastGrant: -1 };
      this.shares.set(key, share);
    }
    return share;
  }

  /** Drops an identity's share once it neither runs nor waits. */
  private forget(key: string, share: Share): void {
    if (share.running === 0 && share.queue.length === 0 && this.shares.get(key) === share) this.shares.delete(key);
  }

  private take(share: Share): void {
    this.running += 1;
    share.running += 1;
    share.lastGrant = this.grants++;
  }

  private full(): RpcError {
    return new RpcError(
      status.RESOURCE_EXHAUSTED,
      `too many programs and children: ${this.running} running, ${this.queued} waiting (--max-children ${this.options.maxChildren}, --max-queue ${this.options.maxQueue})`,
      "CHILD_LIMIT",
    );
  }

  /** With the queue full: refuses the newest waiter of the longest queue if it is longer than `share`'s would become; whether room was made. */
  private pushOutFor(share: Share): boolean {
    let longest: Share | undefined;
    for (const other of this.shares.values()) if (!longest || other.queue.length > longest.queue.length) longest = other;
    if (!longest || longest === share || longest.queue.length <= share.queue.length + 1) return false;
    longest.queue[longest.queue.length - 1].refuse(this.full());
    return true;
  }

  /** The identity a freed slot goes to: fewest running, then granted least recently. */
  private next(): Share | undefined {
    let best: Share | undefined;
    for (const share of this.shares.values()) {
      if (share.queue.length === 0) continue;
      if (!best || share.running < best.running || (share.running === best.running && share.lastGrant < best.lastGrant)) best = share;
    }
    return best;
  }

  private releaser(key: string, share: Share): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      share.running -= 1;
      this.forget(key, share);
      this.next()?.queue[0].grant();
    };
  }
}

/**
 * The methods whose calls run a child ("Service/Method"), or file
 * operations on caller-named paths on threads of their own (FileService,
 * BindMount's source): they take a slot for their whole call, and keep it
 * while an operation they started still runs (CallContext.holdSlot).
 */
export const CHILD_METHODS: ReadonlySet<string> = new Set([
  "ProcessService/Run",
  "ProcessService/Exec",
  "NamespaceService/Unshare",
  "NamespaceService/GetLimit",
  "NamespaceService/SetLimit",
  "MountService/BindMount",
  "NamespaceService/GetSysctl",
  "NamespaceService/SetSysctl",
  "FileService/ReadFile",
  "FileService/WriteFile",
  "FileService/Stat",
  "FileService/ListDirectory",
]);
