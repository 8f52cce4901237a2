/**
 * File operations inside a root (a process's /proc/PID/root, or a mount
 * namespace's root held from a child), for FileService, and lookups of
 * caller-named paths (MountService's source). Every call runs on a thread
 * of its own, never on the libuv pool nor the event loop: a lookup or a
 * read may hang for good on a dead mount (FUSE, NFS), and only that
 * thread waits. Paths resolve once with openat2: RESOLVE_IN_ROOT from a
 * root, RESOLVE_BENEATH for one name in a directory, never through a magic
 * link. With `creds` the thread takes them first, so the kernel checks
 * permissions as for that process. Rejects with NativeError (code the
 * errno name, syscall the one that failed).
 */
import { raw } from "./addon";
import { checkFd } from "./child-spec";
import type { RawDirEntry, RawFileCreds, RawFileStat } from "./raw";

export type FileCreds = RawFileCreds;
export type FileStat = RawFileStat;
export type DirEntry = RawDirEntry;

function checkName(value: string, what: string): void {
  if (typeof value !== "string" || value.length === 0 || value.includes("\0")) throw new TypeError(`${what} must be a non-empty string without NUL`);
}

/** openat2(dirFd, path, flags, mode) inside dirFd (RESOLVE_IN_ROOT, or RESOLVE_BENEATH with `beneath`): a new fd. */
export async function openIn(dirFd: number, path: string, flags: number, options: { mode?: number; beneath?: boolean; creds?: FileCreds } = {}): Promise<number> {
  checkFd(dirFd);
  checkName(path, "path");
  return (await raw.fileOp("open", { fd: dirFd, path, flags, mode: options.mode ?? 0, inRoot: options.beneath !== true }, options.creds)) as number;
}

/** openIn, then fstat of the new fd, on one thread: the fd and its stat. */
export async function openStat(dirFd: number, path: string, flags: number, options: { mode?: number; beneath?: boolean; creds?: FileCreds } = {}): Promise<FileStat & { fd: number }> {
  checkFd(dirFd);
  checkName(path, "path");
  return (await raw.fileOp("open", { fd: dirFd, path, flags, mode: options.mode ?? 0, inRoot: options.beneath !== true, withStat: true }, options.creds)) as FileStat & { fd: number };
}

/** What openRead answers: the file's stat, the fd (-1 once the op closed it), and the first block's bytes. */
export interface OpenRead extends FileStat {
  fd: number;
  /** Bytes read into the buffer. */
  bytes: number;
  /** A read returned 0: the end of the file (the fd is closed). */
  eof: boolean;
}

/**
 * The open, fstat and first block of a read, in one operation on one
 * thread: openat2 of `path` with RESOLVE_IN_ROOT from `from` (an fd, or a
 * root directory path such as /proc/PID/root that the op opens with
 * O_PATH|O_DIRECTORY and closes itself), fstat, and for a regular file
 * preads from `position` until `buffer` is full or the end. The op closes
 * the fd (fd -1) at the end, when full with `closeWhenFull`, and for
 * anything but a regular file (its stat still answered); otherwise the fd
 * is the caller's. `buffer` must not be touched until it settles. A
 * failure of the root's open has syscall "open", of the file's "openat2",
 * "fstatat" or "pread"; nothing opened is left open.
 */
export async function openRead(from: { fd: number } | { root: string }, path: string, flags: number, buffer: Uint8Array, position: bigint, options: { closeWhenFull?: boolean; creds?: FileCreds } = {}): Promise<OpenRead> {
  if ("fd" in from) checkFd(from.fd);
  else checkName(from.root, "root");
  checkName(path, "path");
  const where = "fd" in from ? { fd: from.fd } : { root: from.root };
  return (await raw.fileOp("openRead", { ...where, path, flags, buffer, position, closeWhenFull: options.closeWhenFull === true }, options.creds)) as OpenRead;
}

/** fstat of any fd (O_PATH too). */
export async function statFd(fd: number, creds?: FileCreds): Promise<FileStat> {
  checkFd(fd);
  return (await raw.fileOp("stat", { fd }, creds)) as FileStat;
}

/** The target of a symlink opened O_PATH|O_NOFOLLOW. */
export async function readLinkFd(fd: number, creds?: FileCreds): Promise<string> {
  checkFd(fd);
  return (await raw.fileOp("readlink", { fd }, creds)) as string;
}

/** renameat(dirFd, from, dirFd, to): two names in one directory. */
export async function renameIn(dirFd: number, from: string, to: string, creds?: FileCreds): Promise<void> {
  checkFd(dirFd);
  checkName(from, "from");
  checkName(to, "to");
  await raw.fileOp("rename", { fd: dirFd, path: from, to }, creds);
}

/** unlinkat(dirFd, name). */
export async function unlinkIn(dirFd: number, name: string, creds?: FileCreds): Promise<void> {
  checkFd(dirFd);
  checkName(name, "name");
  await raw.fileOp("unlink", { fd: dirFd, path: name }, creds);
}

/** fchownat(fd, "", uid, gid, AT_EMPTY_PATH); an undefined id is left as it is. */
export async function chownFd(fd: number, ids: { uid?: number; gid?: number }, creds?: FileCreds): Promise<void> {
  checkFd(fd);
  await raw.fileOp("chown", { fd, uid: ids.uid, gid: ids.gid }, creds);
}

/** fchmod(fd, mode & 07777). */
export async function chmodFd(fd: number, mode: number, creds?: FileCreds): Promise<void> {
  checkFd(fd);
  await raw.fileOp("chmod", { fd, mode }, creds);
}

/** Every entry of a directory fd but "." and "..", lstat'ed; more than `max`: NativeError E2BIG. */
export async function listDirectory(fd: number, max: number, creds?: FileCreds): Promise<DirEntry[]> {
  checkFd(fd);
  return (await raw.fileOp("list", { fd, max }, creds)) as DirEntry[];
}

/** pread(fd, buffer, buffer.length, position): the bytes read (0 at the end; may be short). `buffer` must not be touched until it settles. */
export async function read(fd: number, buffer: Uint8Array, position: bigint): Promise<number> {
  checkFd(fd);
  return (await raw.fileOp("read", { fd, buffer, position })) as number;
}

/** write(fd, buffer, buffer.length) at the fd's offset: the bytes written (may be short). */
export async function write(fd: number, buffer: Uint8Array): Promise<number> {
  checkFd(fd);
  return (await raw.fileOp("write", { fd, buffer })) as number;
}

/** fdatasync(fd). */
export async function fdatasync(fd: number): Promise<void> {
  checkFd(fd);
  await raw.fileOp("fdatasync", { fd });
}

/** close(fd) (a FUSE file's close may wait for its server too). */
export async function close(fd: number): Promise<void> {
  checkFd(fd);
  await raw.fileOp("close", { fd });
}

/** open(path, flags|O_CLOEXEC), looked up from the daemon's own root. */
export async function openPath(path: string, flags: number): Promise<number> {
  checkName(path, "path");
  return (await raw.fileOp("openPath", { path, flags })) as number;
}

/** As index.ts openBeneath (an O_PATH fd of `relative` beneath `root`), on a thread of its own. */
export async function openBeneath(root: string, relative: string): Promise<number> {
  checkName(root, "root");
  checkName(relative, "relative");
  return (await raw.fileOp("openBeneath", { path: root, to: relative })) as number;
}
