import { status } from "@grpc/grpc-js";
import type * as native from "../../native/lib";
import { RpcError, invalidArgument } from "../errors";
import { fileCall } from "./file-errors";
import { fileInfo, isDirectory, isRegular, isSymlink, lastComponent } from "./file-info";
import type { FileRoot } from "./file-root";

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

/**
 * The bytes of `file` from `offset`, at most `length` (0: to the end), in
 * READ_CHUNK pieces, pulled one at a time (the caller's stream gives the
 * backpressure). A chunk's bytes stay valid only until the consumer has
 * pulled a block more (buffers are reused): copy (serialize) each in turn. Only a regular file is read (opened O_NONBLOCK, so a FIFO
 * or device named by the caller never blocks an open; it is then refused:
 * FAILED_PRECONDITION). More than `maxBytes` to the end: RESOURCE_EXHAUSTED.
 */
export async function* readFileChunks(root: FileRoot, file: string, offset: bigint, length: bigint, maxBytes: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  if (length > BigInt(maxBytes)) throw invalidArgument(`length: ${length} is above --max-file-bytes (${maxBytes})`);
  const { fd, ...st } = await fileCall(`open ${file} in ${root.label}`, () => root.io.openStat(root.fd, file, O_RDONLY | O_NONBLOCK | O_NOCTTY, { creds: root.creds }));
  try {
    if (isDirectory(st.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${file} in ${root.label} is a directory`, "EISDIR");
    if (!isRegular(st.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${file} in ${root.label} is not a regular file`, "NOT_REGULAR_FILE");
    const toEnd = length === 0n;
    if (toEnd && st.size > BigInt(maxBytes) + offset) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `${file} holds ${st.size} bytes, above --max-file-bytes (${maxBytes}); ask for a length`, "FILE_TOO_LARGE");
    }
    let left = toEnd ? maxBytes + 1 : Number(length);
    let position = offset;
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
    let pending: Promise<Buffer> | undefined = readBlock(Math.min(READ_BLOCK, left), position);
    try {
      while (pending) {
        const block = await pending;
        pending = undefined;
        if (block.length === 0) return;
        if (toEnd && block.length >= left) {
          throw new RpcError(status.RESOURCE_EXHAUSTED, `${file} grew past --max-file-bytes (${maxBytes}) while it was read; ask for a length`, "FILE_TOO_LARGE");
        }
        left -= block.length;
        position += BigInt(block.length);
        if (left > 0) pending = readBlock(Math.min(READ_BLOCK, left), position);
        for (let at = 0; at < block.length; at += READ_CHUNK) {
          if (signal.aborted) throw signal.reason;
          yield block.subarray(at, Math.min(at + READ_CHUNK, block.length));
        }
      }
    } finally {
      // The fd is closed only once no read of it is in flight (io.close waits for them too).
      await pending?.catch(() => undefined);
    }
  } finally {
    void root.io.close(fd);
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
