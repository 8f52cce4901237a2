import type { NsScanRow } from "../../native/lib";
import type { ProcessPlace } from "../containers/process-places";
import { rowKey } from "./list";

/** A namespace that appeared or went away between two scans. */
export interface WatchEvent {
  kind: "added" | "removed";
  /** The row of the scan that saw it (for "removed", the last scan that still did). */
  row: NsScanRow;
  /**
   * The container and pod of the row's pid when the namespace was ADDED (a
   * REMOVED one's process is gone: it keeps the place it was added with).
   * Only when the poller was given a way to read places.
   */
  place?: ProcessPlace;
}

/** Reads the places of pids for one scan (reads shared by every watcher of that scan). */
export type PlaceReader = () => { of(pid: number): Promise<ProcessPlace> };

/** One watcher's view of the shared poller; close it when done. */
export interface WatchSubscription {
  /**
   * The next batch of events; the first is the whole current set as "added".
   * Null once the poller has ended (the daemon is shutting down). Rejects
   * with signal.reason on abort, or with a scan's error.
   */
  next(signal: AbortSignal): Promise<WatchEvent[] | null>;
  /** Leaves the poller; the last one to leave stops it (no timer is left). Idempotent. */
  close(): void;
}

/** What one watcher may see of a scan (a restricted identity's rows); the whole scan when a watcher has none. */
export type WatchView = (rows: readonly NsScanRow[]) => Promise<readonly NsScanRow[]>;

interface Watcher {
  intervalMs: number;
  view?: WatchView;
  /** The rows of its view in the last scan it was given, by key. */
  previous: Map<string, NsScanRow>;
  /** The places its ADDED events carried, by key, while the namespace is in its view. */
  places: Map<string, ProcessPlace>;
  primed: boolean;
  queue: WatchEvent[][];
  error?: unknown;
  wake?: () => void;
}

/**
 * The one poller behind every WatchNamespaces call: while at least one
 * watcher exists it scans /proc at the smallest interval any of them asked
 * for, and gives each watcher the differences of the namespace keys (type
 * and inode, never the row contents) between its view of this scan and of
 * the previous one. A watcher's view is the whole scan, or what its
 * identity may see (a namespace that an allowed process joins later is
 * ADDED then). A new watcher gets its whole view of the next scan, which
 * starts at once.
 */
export class NamespaceWatch {
  private readonly watchers = new Set<Watcher>();
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private scanAgain = false;
  private ended = false;

  /** `places`: how to read the container and pod of a row's pid (none: events carry no place). */
  constructor(
    private readonly scan: () => Promise<readonly NsScanRow[]>,
    private readonly places?: PlaceReader,
  ) {}

  /** How many watchers there are (tests, metrics). */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Whether a timer or a scan is pending (tests: false once every watcher left and the last scan ended). */
  get running(): boolean {
    return this.timer !== undefined || this.scanning;
  }

  /** Joins the poller, asking for a scan at least every `intervalMs`; `view` narrows what it is shown of each scan. */
  subscribe(intervalMs: number, view?: WatchView): WatchSubscription {
    const watcher: Watcher = { intervalMs, view, previous: new Map(), places: new Map(), primed: false, queue: [] };
    if (!this.ended) {
      this.watchers.add(watcher);
      this.scheduleNow();
    }
    return {
      next: (signal) => this.next(watcher, signal),
      close: () => this.leave(watcher),
    };
  }

  /** Ends every watch: pending and later next() calls give what was queued, then null; no scan runs any more. */
  end(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const watcher of watchers) watcher.wake?.();
  }

  private next(watcher: Watcher, signal: AbortSignal): Promise<WatchEvent[] | null> {
    return new Promise<WatchEvent[] | null>((resolve, reject) => {
      const settle = (): boolean => {
        if (signal.aborted) reject(signal.reason);
        else if (watcher.queue.length > 0) resolve(watcher.queue.shift()!);
        else if (watcher.error !== undefined) reject(watcher.error);
        else if (this.ended) resolve(null);
        else return false;
        return true;
      };
      if (settle()) return;
      const onAbort = (): void => void wake();
      const wake = (): void => {
        if (!settle()) return;
        watcher.wake = undefined;
        signal.removeEventListener("abort", onAbort);
      };
      watcher.wake = wake;
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private leave(watcher: Watcher): void {
    if (!this.watchers.delete(watcher) || this.watchers.size > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private scheduleNow(): void {
    if (this.scanning) {
      this.scanAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), 0);
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.scanning = true;
    try {
      await this.deliver(await this.scan());
    } catch (err) {
      for (const watcher of this.watchers) this.push(watcher, undefined, err);
      this.watchers.clear();
    } finally {
      this.scanning = false;
    }
    if (this.watchers.size === 0 || this.ended) return;
    const intervalMs = this.scanAgain ? 0 : Math.min(...[...this.watchers].map((w) => w.intervalMs));
    this.scanAgain = false;
    this.timer = setTimeout(() => void this.poll(), intervalMs);
  }

  private async deliver(rows: readonly NsScanRow[]): Promise<void> {
    const places = this.places?.();
    await Promise.all(
      [...this.watchers].map(async (watcher) => {
        let seen: readonly NsScanRow[];
        try {
          seen = watcher.view ? await watcher.view(rows) : rows;
        } catch (err) {
          this.push(watcher, undefined, err);
          this.watchers.delete(watcher);
          return;
        }
        // It may have left, or the poller ended, while its view was worked out.
        if (!this.watchers.has(watcher)) return;
        const first = !watcher.primed;
        const changes = this.changesOf(watcher, seen);
        if (places) await withPlaces(watcher, changes, places);
        if (!this.watchers.has(watcher)) return;
        if (changes.length > 0 || first) this.push(watcher, changes);
      }),
    );
  }

  /** The differences of `rows` from the watcher's previous view (the first time: all of them, ADDED); its view becomes `rows`. */
  private changesOf(watcher: Watcher, rows: readonly NsScanRow[]): WatchEvent[] {
    const current = new Map(rows.map((row) => [rowKey(row), row]));
    const previous = watcher.previous;
    watcher.previous = current;
    if (!watcher.primed) {
      watcher.primed = true;
      return rows.map((row) => ({ kind: "added", row }));
    }
    const changes: WatchEvent[] = [];
    for (const [key, row] of current) if (!previous.has(key)) changes.push({ kind: "added", row });
    for (const [key, row] of previous) if (!current.has(key)) changes.push({ kind: "removed", row });
    return changes;
  }

  private push(watcher: Watcher, events: WatchEvent[] | undefined, error?: unknown): void {
    if (events) watcher.queue.push(events);
    else watcher.error = error;
    watcher.wake?.();
  }
}

/** Gives ADDED events the place of their pid, read now, and REMOVED ones the place they were added with. */
async function withPlaces(watcher: Watcher, events: WatchEvent[], places: ReturnType<PlaceReader>): Promise<void> {
  await Promise.all(
    events.map(async (event) => {
      const key = rowKey(event.row);
      if (event.kind === "added") {
        event.place = await places.of(event.row.pid);
        watcher.places.set(key, event.place);
      } else {
        event.place = watcher.places.get(key);
        watcher.places.delete(key);
      }
    }),
  );
}
