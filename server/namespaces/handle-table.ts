import { randomBytes } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import type { HandleSchema, NamespaceInfo } from "../../api/gen/lxnsd/v1/types_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { RpcError, invalidArgument } from "../errors";

/** The process a handle was made from: its pid and start time (field 22 of /proc/PID/stat), which name it for good. */
export interface HandleOrigin {
  readonly pid: number;
  readonly startTime: string;
}

/** Limits of the table, from the daemon's configuration. */
export interface HandleTableOptions {
  maxHandles: number;
  /** Most handles one owner (identity) may hold at once. */
  maxPerOwner?: number;
  defaultLeaseMs: number;
  maxLeaseMs: number;
  /** Closes a namespace fd (the addon's close). */
  closeFd: (fd: number) => void;
  log: Logger;
}

interface Entry {
  readonly id: string;
  /** The identity that made it: only it may use or close it. */
  readonly owner: string;
  /** The namespace's nsfs fd. */
  readonly fd: number;
  /** Other fds that keep the namespace usable (a pid namespace's keeper), closed with the handle. */
  readonly extraFds: readonly number[];
  readonly info: NamespaceInfo;
  readonly leaseMs: number;
  readonly origin?: HandleOrigin;
  expiresAt: number;
  /** Requests using the fd right now: the fd is closed only when this drops to 0. */
  users: number;
  closed: boolean;
}

/** A handle's fd lent to one request; call release() when done with it. */
export interface Lent {
  readonly fd: number;
  readonly info: NamespaceInfo;
  /** The process the handle was made from, if it was made from one. */
  readonly origin?: HandleOrigin;
  release(): void;
}

const MAX_TOMBSTONES = 65536;

/**
 * The daemon's handles: each holds one nsfs fd, which keeps its namespace
 * alive. A lease renewed by every use bounds how long a forgotten handle
 * holds its fd (lxns warns on an unclosed object; we close it and warn).
 * Ids of closed handles are remembered (up to a bound) so that using one is
 * FAILED_PRECONDITION rather than NOT_FOUND.
 */
export class HandleTable {
  private readonly entries = new Map<string, Entry>();
  private readonly tombstones = new Map<string, "closed" | "expired">();
  private readonly perOwner = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: HandleTableOptions) {
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The ids of the open handles. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Handles `owner` holds. */
  countOf(owner: string): number {
    return this.perOwner.get(owner) ?? 0;
  }

  /** Throws RESOURCE_EXHAUSTED unless `count` more handles fit, in all and for `owner`. Call before creating namespaces. */
  reserve(count: number, owner: string): void {
    if (this.entries.size + count > this.options.maxHandles) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `too many open handles: ${this.entries.size} of ${this.options.maxHandles} in use, ${count} more asked`, "HANDLE_LIMIT");
    }
    const held = this.countOf(owner);
    const cap = this.options.maxPerOwner ?? Infinity;
    if (held + count > cap) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `too many open handles for ${owner}: ${held} of ${cap} in use, ${count} more asked`, "HANDLE_LIMIT_PER_IDENTITY");
    }
  }

  /** The lease in ms for a requested duration (undefined = the default); INVALID_ARGUMENT when out of range. */
  leaseMs(requestedMs: number | undefined): number {
    if (requestedMs === undefined) return this.options.defaultLeaseMs;
    if (!(requestedMs >= 1000) || requestedMs > this.options.maxLeaseMs) {
      throw invalidArgument(`lease must be between 1s and ${this.options.maxLeaseMs / 1000}s`);
    }
    return requestedMs;
  }

  /**
   * Takes ownership of `fd` (and of `extraFds`, which keep the namespace
   * usable and are closed with it) and returns the new handle. On
   * RESOURCE_EXHAUSTED they are closed. `origin`: the process it was made
   * from (see ResolvedNamespace.origin).
   */
  add(owner: string, fd: number, info: NamespaceInfo, leaseMs: number, extraFds: readonly number[] = [], origin?: HandleOrigin): MessageInitShape<typeof HandleSchema> {
    try {
      this.reserve(1, owner);
    } catch (err) {
      [fd, ...extraFds].forEach(this.options.closeFd);
      throw err;
    }
    const entry: Entry = { id: `h-${randomBytes(12).toString("base64url")}`, owner, fd, extraFds, info, leaseMs, origin, expiresAt: Date.now() + leaseMs, users: 0, closed: false };
    this.entries.set(entry.id, entry);
    this.perOwner.set(owner, this.countOf(owner) + 1);
    return this.describe(entry);
  }

  /** Lends a handle's fd to a request of `owner` and renews its lease. NOT_FOUND if unknown, FAILED_PRECONDITION if closed, PERMISSION_DENIED if another's. */
  lend(id: string, owner: string): Lent {
    const entry = this.find(id, owner);
    entry.users += 1;
    entry.expiresAt = Date.now() + entry.leaseMs;
    let released = false;
    return {
      fd: entry.fd,
      info: entry.info,
      origin: entry.origin,
      release: () => {
        if (released) return;
        released = true;
        entry.users -= 1;
        if (entry.closed && entry.users === 0) this.closeFds(entry);
      },
    };
  }

  /** The handle as the API shows it, lease renewed. */
  touch(id: string, owner: string): MessageInitShape<typeof HandleSchema> {
    const entry = this.find(id, owner);
    entry.expiresAt = Date.now() + entry.leaseMs;
    return this.describe(entry);
  }

  /** Releases a handle of `owner`. Closing a closed handle again is harmless; an unknown id is NOT_FOUND, another's PERMISSION_DENIED. */
  close(id: string, owner: string): void {
    checkId(id);
    if (this.tombstones.has(id)) return;
    const entry = this.entries.get(id);
    if (!entry) throw unknownHandle(id);
    checkOwner(entry, owner);
    this.retire(entry, "closed");
  }

  /** Closes every handle (daemon shutdown). */
  closeAll(): void {
    clearInterval(this.sweeper);
    for (const entry of [...this.entries.values()]) this.retire(entry, "closed");
  }

  private sweep(): void {
    const now = Date.now();
    for (const entry of [...this.entries.values()]) {
      if (entry.expiresAt > now) continue;
      this.options.log.warn({ handle: entry.id, nsId: entry.info.nsId.toString() }, "handle lease expired without Close; releasing its namespace");
      this.retire(entry, "expired");
    }
  }

  private find(id: string, owner: string): Entry {
    checkId(id);
    const entry = this.entries.get(id);
    if (entry) {
      checkOwner(entry, owner);
      return entry;
    }
    const tombstone = this.tombstones.get(id);
    if (tombstone) throw new RpcError(status.FAILED_PRECONDITION, `handle ${id} is ${tombstone}`, tombstone === "closed" ? "HANDLE_CLOSED" : "HANDLE_EXPIRED");
    throw unknownHandle(id);
  }

  private retire(entry: Entry, why: "closed" | "expired"): void {
    this.entries.delete(entry.id);
    const left = this.countOf(entry.owner) - 1;
    if (left > 0) this.perOwner.set(entry.owner, left);
    else this.perOwner.delete(entry.owner);
    entry.closed = true;
    if (entry.users === 0) this.closeFds(entry);
    this.tombstones.set(entry.id, why);
    if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string);
  }

  private closeFds(entry: Entry): void {
    [entry.fd, ...entry.extraFds].forEach(this.options.closeFd);
  }

  private describe(entry: Entry): MessageInitShape<typeof HandleSchema> {
    return { id: entry.id, info: entry.info, expiresAt: timestampFromMs(entry.expiresAt) };
  }
}

function checkId(id: string): void {
  if (id === "") throw invalidArgument("handle: must not be empty");
}

function checkOwner(entry: Entry, owner: string): void {
  if (entry.owner !== owner) throw new RpcError(status.PERMISSION_DENIED, `handle ${entry.id} belongs to another identity`, "HANDLE_NOT_YOURS");
}

function unknownHandle(id: string): RpcError {
  return new RpcError(status.NOT_FOUND, `no handle ${JSON.stringify(id.slice(0, 100))}`, "HANDLE_UNKNOWN");
}
