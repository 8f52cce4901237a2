/**
 * A program's terminal, as the daemon holds it: the pty master the addon
 * handed over (exec.tty), read and written without ever blocking the event
 * loop. libuv's own tty handle would make writes to a pty master blocking,
 * so the addon only polls the fd (watchFd) and the reads and writes are
 * plain non-blocking syscalls that answer -errno.
 */
import { Readable } from "node:stream";
import { raw } from "./addon";

const READABLE = 1;
const WRITABLE = 2;
const EAGAIN = 11;
/** What one read takes at most, and how many reads one wake-up makes before yielding. */
const CHUNK = 64 * 1024;
const READS_PER_WAKEUP = 16;

interface PendingWrite {
  data: Buffer;
  resolve: () => void;
}

export class Terminal {
  /**
   * Everything the program writes on the terminal, raw, until the master
   * reads EIO (the program and everything it started have closed the
   * slave: all that was written before is read first). Reading slowly
   * stops the reading, and the program blocks once the terminal's buffer
   * is full.
   */
  readonly output: Readable;
  private readonly watch: number;
  private readonly scratch = Buffer.allocUnsafe(CHUNK);
  private wantRead = false;
  private writes: PendingWrite[] = [];
  /** The program can no longer take input (EIO or another write error): input is dropped. */
  private inputGone = false;
  private closed = false;
  private bits = 0;

  /** Takes `fd` (a pty master, O_NONBLOCK): closed by close(). */
  constructor(private readonly fd: number) {
    this.watch = raw.watchFd(fd, (events) => this.onEvents(events));
    this.output = new Readable({
      highWaterMark: CHUNK,
      read: () => {
        this.wantRead = true;
        this.readNow();
      },
      destroy: (err, callback) => {
        this.close();
        callback(err);
      },
    });
  }

  /** Types `data` on the terminal; resolves once all of it was taken (backpressure). Dropped once the program is gone. */
  write(data: Uint8Array): Promise<void> {
    if (this.closed || this.inputGone || data.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.writes.push({ data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), resolve });
      if (this.writes.length === 1) this.writeNow();
    });
  }

  /** Types the terminal's EOF character (c_cc[VEOF], ^D unless the program changed it). */
  sendEof(): Promise<void> {
    if (this.closed || this.inputGone) return Promise.resolve();
    let eof: number;
    try {
      eof = raw.terminalEofChar(this.fd);
    } catch {
      return Promise.resolve();  // the slave side is gone
    }
    return this.write(Buffer.of(eof));
  }

  /** Sets the terminal's size; the kernel sends SIGWINCH to its foreground job when it changed. */
  resize(rows: number, cols: number): void {
    if (this.closed) return;
    try {
      raw.terminalResize(this.fd, rows, cols);
    } catch {
      // the slave side is gone: nothing left to resize
    }
  }

  /** Sends `signal` to the terminal's foreground process group; false when it has none (or the terminal is closed). */
  signal(signal: number): boolean {
    return !this.closed && raw.terminalSignal(this.fd, signal);
  }

  /** Stops watching and closes the master (idempotent); pending writes resolve. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    raw.closeWatch(this.watch);
    this.dropWrites();
    if (!this.output.destroyed) this.output.destroy();
  }

  private onEvents(events: number): void {
    if (this.closed) return;
    if (events & READABLE) this.readNow();
    if (events & WRITABLE) this.writeNow();
  }

  private readNow(): void {
    for (let reads = 0; reads < READS_PER_WAKEUP && this.wantRead && !this.closed; reads++) {
      const n = raw.fdRead(this.fd, this.scratch);
      if (n === -EAGAIN) break;
      if (n <= 0) {
        // EIO: the slave is closed by all (a pty master's end of file), or any other error, which ends the output alike
        this.wantRead = false;
        this.output.push(null);
        break;
      }
      this.wantRead = this.output.push(Buffer.from(this.scratch.subarray(0, n)));
    }
    this.update();
  }

  private writeNow(): void {
    while (this.writes.length > 0 && !this.closed) {
      const head = this.writes[0];
      const n = raw.fdWrite(this.fd, head.data);
      if (n === -EAGAIN) break;
      if (n < 0) {
        this.inputGone = true;  // EIO: the program is gone; its input goes nowhere
        this.dropWrites();
        break;
      }
      head.data = head.data.subarray(n);
      if (head.data.length > 0) continue;
      this.writes.shift();
      head.resolve();
    }
    this.update();
  }

  private dropWrites(): void {
    const writes = this.writes;
    this.writes = [];
    writes.forEach((write) => write.resolve());
  }

  private update(): void {
    if (this.closed) return;
    const bits = (this.wantRead ? READABLE : 0) | (this.writes.length > 0 ? WRITABLE : 0);
    if (bits === this.bits) return;
    this.bits = bits;
    raw.setWatch(this.watch, bits);
  }
}
