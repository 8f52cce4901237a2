import { status } from "@grpc/grpc-js";
import { fromErrno, isErrnoLike } from "../errors";

/**
 * FileService's errno meanings, over the daemon's table: a path that is a
 * directory, not one, loops or escapes (ELOOP, EXDEV), or sits on a
 * read-only mount is the state of the target's files (FAILED_PRECONDITION);
 * ENOTDIR too (the daemon's table says NOT_FOUND for namespace paths).
 */
export const FILE_OVERRIDES: Readonly<Record<string, status>> = {
  EISDIR: status.FAILED_PRECONDITION,
  ENOTDIR: status.FAILED_PRECONDITION,
  ELOOP: status.FAILED_PRECONDITION,
  EXDEV: status.FAILED_PRECONDITION,
  EROFS: status.FAILED_PRECONDITION,
  ENXIO: status.FAILED_PRECONDITION, // a FIFO without a reader, a device without its driver
  ETXTBSY: status.FAILED_PRECONDITION,
  EBUSY: status.FAILED_PRECONDITION,
  EAGAIN: status.FAILED_PRECONDITION, // a regular-looking file (/proc/kmsg) with nothing to read without blocking
  ENOTEMPTY: status.FAILED_PRECONDITION,
  EEXIST: status.ALREADY_EXISTS,
  EFBIG: status.RESOURCE_EXHAUSTED,
  EDQUOT: status.RESOURCE_EXHAUSTED,
  E2BIG: status.RESOURCE_EXHAUSTED, // a directory with more entries than a listing holds
  ENAMETOOLONG: status.INVALID_ARGUMENT,
  EINVAL: status.INVALID_ARGUMENT,
  EIO: status.UNAVAILABLE,
};

/** Runs `fn` (a promise of the addon or node:fs); a syscall failure becomes its FileService status. */
export async function fileCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isErrnoLike(err) ? fromErrno(err, what, FILE_OVERRIDES) : err;
  }
}
