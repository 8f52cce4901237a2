import * as native from "../../native/lib";
import type { SlotCall } from "../rpc/service-impl";

/**
 * One call's file operations on caller-named paths and fds. Each runs on a
 * thread of its own (native/lib files: never the libuv pool, never the
 * event loop), holds the call's child slot while it runs, and is raced
 * against the call's signal: a lookup or read stuck on a hung mount keeps
 * its thread and its slot, but the call answers at its deadline or cancel.
 * What a stuck op yields after the call gave up is cleaned up when it
 * comes (an fd is closed). An fd is closed only once no op on it is in
 * flight, so its number is never reused under a late read or write.
 */
export class FileIo {
  private readonly inFlight = new Map<number, Set<Promise<unknown>>>();

  constructor(private readonly call: SlotCall) {}

  /** The call's signal. */
  get signal(): AbortSignal {
    return this.call.signal;
  }

  /**
   * Runs `op` (naming `fds`), holding the slot until it settles; answers at
   * once with the signal's reason when the call ends first, and hands a
   * result that comes later to `late`.
   */
  private run<T>(fds: number[], op: () => Promise<T>, late?: (value: T) => void, evenIfEnded = false): Promise<T> {
    const signal = this.call.signal;
    if (signal.aborted && !evenIfEnded) return Promise.reject(signal.reason);
    const release = this.call.holdSlot();
    const promise = op();
    for (const fd of fds) this.track(fd, promise);
    promise.then(
      () => undefined,
      () => undefined,
    ).finally(release);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        settled = true;
        reject(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          if (settled) late?.(value);
          else resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener("abort", onAbort);
          if (!settled) reject(err);
        },
      );
    });
  }

  private track(fd: number, promise: Promise<unknown>): void {
    let set = this.inFlight.get(fd);
    if (!set) this.inFlight.set(fd, (set = new Set()));
    set.add(promise);
    const forget = () => {
      set.delete(promise);
      if (set.size === 0 && this.inFlight.get(fd) === set) this.inFlight.delete(fd);
    };
    promise.then(forget, forget);
  }

  /** An fd a late op opened after the call gave up: closed when it comes. */
  private readonly closeLate = (fd: number): void => void this.close(fd);

  openIn(dirFd: number, file: string, flags: number, options: { mode?: number; beneath?: boolean; creds?: native.FileCreds } = {}): Promise<number> {
    return this.run([dirFd], () => native.files.openIn(dirFd, file, flags, options), this.closeLate);
  }

  /** openIn and fstat of the new fd, in one operation. */
  openStat(dirFd: number, file: string, flags: number, options: { mode?: number; beneath?: boolean; creds?: native.FileCreds } = {}): Promise<native.FileStat & { fd: number }> {
    return this.run([dirFd], () => native.files.openStat(dirFd, file, flags, options), (opened) => this.closeLate(opened.fd));
  }

  /**
   * The open, fstat and first block of a read in one operation (native
   * files.openRead): from an fd root, or a root path the op opens itself.
   * The fd it leaves open (fd >= 0) is the caller's to close.
   */
  openRead(from: { fd: number } | { root: string }, file: string, flags: number, buffer: Uint8Array, position: bigint, options: { closeWhenFull?: boolean; creds?: native.FileCreds } = {}): Promise<native.files.OpenRead> {
    return this.run("fd" in from ? [from.fd] : [], () => native.files.openRead(from, file, flags, buffer, position, options), (opened) => {
      if (opened.fd >= 0) this.closeLate(opened.fd);
    });
  }

  /** open(path, flags) from the daemon's own root. */
  openPath(file: string, flags: number): Promise<number> {
    return this.run([], () => native.files.openPath(file, flags), this.closeLate);
  }

  /** An O_PATH fd of `relative` beneath `root` (native openBeneath). */
  openBeneath(root: string, relative: string): Promise<number> {
    return this.run([], () => native.files.openBeneath(root, relative), this.closeLate);
  }

  statFd(fd: number, creds?: native.FileCreds): Promise<native.FileStat> {
    return this.run([fd], () => native.files.statFd(fd, creds));
  }

  readLinkFd(fd: number, creds?: native.FileCreds): Promise<string> {
    return this.run([fd], () => native.files.readLinkFd(fd, creds));
  }

  renameIn(dirFd: number, from: string, to: string, creds?: native.FileCreds): Promise<void> {
    return this.run([dirFd], () => native.files.renameIn(dirFd, from, to, creds));
  }

  unlinkIn(dirFd: number, name: string, creds?: native.FileCreds): Promise<void> {
    return this.run([dirFd], () => native.files.unlinkIn(dirFd, name, creds));
  }

  /** unlinkIn for a cleanup: runs even once the call has ended; errors ignored. */
  removeQuietly(dirFd: number, name: string, creds?: native.FileCreds): Promise<void> {
    return this.run([dirFd], () => native.files.unlinkIn(dirFd, name, creds), undefined, true).catch(() => undefined);
  }

  chownFd(fd: number, ids: { uid?: number; gid?: number }, creds?: native.FileCreds): Promise<void> {
    return this.run([fd], () => native.files.chownFd(fd, ids, creds));
  }

  chmodFd(fd: number, mode: number, creds?: native.FileCreds): Promise<void> {
    return this.run([fd], () => native.files.chmodFd(fd, mode, creds));
  }

  listDirectory(fd: number, max: number, creds?: native.FileCreds): Promise<native.DirEntry[]> {
    return this.run([fd], () => native.files.listDirectory(fd, max, creds));
  }

  /** pread into `buffer` (not to be touched until the op settles: a late read still fills it). */
  read(fd: number, buffer: Uint8Array, position: bigint): Promise<number> {
    return this.run([fd], () => native.files.read(fd, buffer, position));
  }

  write(fd: number, buffer: Uint8Array): Promise<number> {
    return this.run([fd], () => native.files.write(fd, buffer));
  }

  fdatasync(fd: number): Promise<void> {
    return this.run([fd], () => native.files.fdatasync(fd));
  }

  /**
   * Closes `fd` once no op on it is in flight, errors ignored (it is ours).
   * Resolves when it is closed, or at once when the call has ended (the
   * close still happens, holding the slot, whenever the ops on it return).
   * Read-only fds need not be waited for (nothing of the answer depends on
   * their close): callers leave those to run on.
   */
  close(fd: number): Promise<void> {
    const release = this.call.holdSlot();
    const pending = [...(this.inFlight.get(fd) ?? [])];
    const closed = Promise.allSettled(pending)
      .then(() => native.files.close(fd))
      .catch(() => undefined)
      .finally(release);
    const signal = this.call.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      void closed.then(done);
    });
  }
}
