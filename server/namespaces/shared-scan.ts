/**
 * One /proc scan serves every caller that wants one at about the same time.
 * A scan walks every process; 100 ListNamespaces calls each running their
 * own would fill the libuv pool and make every other caller wait behind them.
 *
 * Freshness: every caller gets a scan that started after it asked, so what
 * it did before asking (started a process, made a namespace) is in the
 * answer. A caller that asks while a scan runs waits for the next one, which
 * starts when the running one ends and serves everyone who asked meanwhile:
 * at most one scan runs and at most one more is waited for, however many
 * callers there are.
 */
export class SharedScan<T> {
  private running?: Promise<T>;
  private next?: Promise<T>;
  private startedCount = 0;

  constructor(private readonly scan: () => Promise<T>) {}

  /** How many scans have been started (tests, metrics). */
  get started(): number {
    return this.startedCount;
  }

  /** The result of a scan that starts now, or of the next one when one is running. Callers must not change it: it is shared. */
  get(): Promise<T> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(noop, noop).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<T> {
    this.startedCount += 1;
    const scan = this.scan();
    this.running = scan;
    const done = () => {
      if (this.running === scan) this.running = undefined;
    };
    scan.then(done, done);
    return scan;
  }
}

function noop(): void {}
