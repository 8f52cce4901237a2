import { status } from "@grpc/grpc-js";
import type * as native from "../../native/lib";
import { RpcError, fromErrno, invalidArgument, isErrnoLike } from "../errors";
import { FILE_OVERRIDES, fileCall } from "./file-errors";
import { fileInfo, isDirectory, isRegular, isSymlink, lastComponent } from "./file-info";
import type { FileRoot, ReadRoot } from "./file-root";

const { O_RDONLY, O_NONBLOCK, O_NOCTTY, O_DIRECTORY, O_NOFOLLOW } = { O_RDONLY: 0, O_NONBLOCK: 0o4000, O_NOCTTY: 0o400, O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000 };
const O_PATH = 0o10000000;

/**
 * Bytes per ReadFile message, as Exec's chunks. 1 MiB and 256 KiB read
 * faster, but cancelled reads then filled a connection's HTTP/2 session
 * memory (--max-connection-memory, 64 MB) and its calls failed
 * RESOURCE_EXHAUSTED (test/reliability/files.test.ts).
 */
export const READ_CHUNK = 64 * 1024;
/** Bytes per read of the file: fewer threads (one per read) than one per message. */
export const READ_BLOCK = 1024 * 1024;
/** Blocks one read holds and reuses in turn: one sent, one read ahead, one whose last chunks may still be unsent. */
const READ_BUFFERS = 3;
/** Most entries one ListDirectory answers (more: RESOURCE_EXHAUSTED). */
export const MAX_DIRECTORY_ENTRIES = 262144;

/** Bytes of the first read of a file to its end: most files are small, and a block allocated per call is garbage. */
const FIRST_BLOCK_TO_END = READ_CHUNK;

/**
 * The read's first operation (native openRead: open, fstat, first block),
 * its failures as the separate operations' were: the root's open as
 * processRoot's, a read as `read FILE`, the rest as `open FILE in ROOT`.
 */
async function openFirstBlock(root: ReadRoot, file: string, buffer: Buffer, offset: bigint, closeWhenFull: boolean) {
  try {
    return await root.io.openRead(root.from, file, O_RDONLY | O_NONBLOCK | O_NOCTTY, buffer, offset, { closeWhenFull, ...(root.creds ? { creds: root.creds } : {}) });
  } catch (err) {
    if (!isErrnoLike(err)) throw err;
    if (err.syscall === "open" && "root" in root.from) throw fromErrno(err, `open the root of ${root.label}`);
    throw fromErrno(err, err.syscall === "pread" ? `read ${file}` : `open ${file} in ${root.label}`, FILE_OVERRIDES);
  }
}

/**
 * The bytes of `file` from `offset`, at most `length` (0: to the end), in
 * READ_CHUNK pieces, pulled one at a time (the caller's stream gives the
 * backpressure). A chunk's bytes stay valid only until the consumer has
 * pulled a block more (buffers are reused): copy (serialize) each in turn.
 * Only a regular file is read (opened O_NONBLOCK, so a FIFO or device
 * named by the caller never blocks an open; it is then refused:
 * FAILED_PRECONDITION). More than `maxBytes` to the end: RESOURCE_EXHAUSTED.
 * The open, fstat and first block are one operation on one thread (which
 * also closes the file when that block holds all of it): a small file
 * costs one thread trip.
 */
export async function* readFileChunks(root: ReadRoot, file: string, offset: bigint, length: bigint, maxBytes: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  if (length > BigInt(maxBytes)) throw invalidArgument(`length: ${length} is above --max-file-bytes (${maxBytes})`);
  const toEnd = length === 0n;
  let left = toEnd ? maxBytes + 1 : Number(length);
  const firstSize = Math.min(left, toEnd ? FIRST_BLOCK_TO_END : READ_BLOCK);
  const firstBlock = Buffer.allocUnsafe(firstSize);
  const first = await openFirstBlock(root, file, firstBlock, offset, !toEnd && firstSize === left);
  const { fd } = first;
  try {
    root.confirm();
    if (isDirectory(first.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${file} in ${root.label} is a directory`, "EISDIR");
    if (!isRegular(first.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${file} in ${root.label} is not a regular file`, "NOT_REGULAR_FILE");
    if (toEnd && first.size > BigInt(maxBytes) + offset) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `${file} holds ${first.size} bytes, above --max-file-bytes (${maxBytes}); ask for a length`, "FILE_TOO_LARGE");
    }
    const grewPast = () => new RpcError(status.RESOURCE_EXHAUSTED, `${file} grew past --max-file-bytes (${maxBytes}) while it was read; ask for a length`, "FILE_TOO_LARGE");
    if (toEnd && first.bytes >= left) throw grewPast();
    left -= first.bytes;
    let position = offset + BigInt(first.bytes);
    // READ_BUFFERS blocks in rotation, not one allocation per block: 1 MiB
    // garbage per block was most of the daemon's GC time in a long read.
    // A block is read into again two blocks later: by then every chunk of
    // it has been yielded and the consumer resumed after at least one more,
    // and the stream handler (add-service.ts WriteWindow) resumes this
    // generator only once every chunk but the last it was given has been
    // serialized, that is copied into grpc-js's frame.
    const buffers: Buffer[] = [];
    let reads = 0;
    const readBlock = (want: number, at: bigint) => {
      const slot = reads++ % READ_BUFFERS;
      buffers[slot] ??= Buffer.allocUnsafe(READ_BLOCK);
      const buffer = buffers[slot].subarray(0, want);
      return fileCall(`read ${file}`, () => root.io.read(fd, buffer, at)).then((bytesRead) => buffer.subarray(0, bytesRead));
    };
    // One block read ahead while the one before is sent: the pool's read and gRPC's send overlap.
    let pending: Promise<Buffer> | undefined = fd >= 0 && left > 0 ? readBlock(Math.min(READ_BLOCK, left), position) : undefined;
    try {
      let block: Buffer = firstBlock.subarray(0, first.bytes);
      for (;;) {
        for (let at = 0; at < block.length; at += READ_CHUNK) {
          if (signal.aborted) throw signal.reason;
          yield block.subarray(at, Math.min(at + READ_CHUNK, block.length));
        }
        if (!pending) return;
        block = await pending;
        pending = undefined;
        if (block.length === 0) return;
        if (toEnd && block.length >= left) throw grewPast();
        left -= block.length;
        position += BigInt(block.length);
        if (left > 0) pending = readBlock(Math.min(READ_BLOCK, left), position);
      }
    } finally {
      // The fd is closed only once no read of it is in flight (io.close waits for them too).
      await pending?.catch(() => undefined);
    }
  } finally {
    if (fd >= 0) void root.io.close(fd);
  }
}

/**
 * Stat of `file`: a final symlink is followed inside the root and its
 * target shown as link_target; a dangling or looping one is reported as
 * the symlink itself.
 */
export async function statFile(root: FileRoot, file: string) {
  const what = `stat ${file} in ${root.label}`;
  const name = lastComponent(file);
  const { fd: self, ...st } = await fileCall(what, () => root.io.openStat(root.fd, file, O_PATH | O_NOFOLLOW, { creds: root.creds }));
  try {
    if (!isSymlink(st.mode)) return fileInfo(name, st);
    const link = await fileCall(what, () => root.io.readLinkFd(self));
    let target: number;
    let targetStat: native.FileStat;
    try {
      const opened = await root.io.openStat(root.fd, file, O_PATH, { creds: root.creds });
      target = opened.fd;
      targetStat = opened;
    } catch (err) {
      if (root.io.signal.aborted) throw err;
      return fileInfo(name, st, link);
    }
    try {
      return fileInfo(name, targetStat, link);
    } finally {
      void root.io.close(target);
    }
  } finally {
    void root.io.close(self);
  }
}

/** The entries of directory `dir` (symlinks not followed), sorted by name. */
export async function listFiles(root: FileRoot, dir: string) {
  const what = `list ${dir} in ${root.label}`;
  const fd = await fileCall(what, () => root.io.openIn(root.fd, dir, O_PATH | O_DIRECTORY, { creds: root.creds }));
  try {
    const entries = await fileCall(what, () => root.io.listDirectory(fd, MAX_DIRECTORY_ENTRIES, root.creds));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return entries.map((entry) => fileInfo(entry.name, entry, entry.link));
  } finally {
    void root.io.close(fd);
  }
}
