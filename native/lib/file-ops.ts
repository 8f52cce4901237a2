/**
 * File operations inside a root (a process's /proc/PID/root, or a mount
 * namespace's root held from a child), for FileService. Every call runs on
 * the libuv pool (a lookup may hang on a dead mount: the event loop never
 * waits) and resolves paths once with openat2: RESOLVE_IN_ROOT from a root,
 * RESOLVE_BENEATH for one name in a directory, never through a magic link.
 * With `creds` the call runs on a thread of its own that took them first,
 * so the kernel checks permissions as for that process. Rejects with
 * NativeError (code the errno name, syscall the one that failed).
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
