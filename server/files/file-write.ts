import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import { WriteMode } from "../../api/gen/lxnsd/v1/file_service_pb";
import type { WriteFileHeader } from "../../api/gen/lxnsd/v1/file_service_pb";
import type * as native from "../../native/lib";
import { RpcError, invalidArgument } from "../errors";
import { fileCall } from "./file-errors";
import { isDirectory, isRegular, isSymlink } from "./file-info";
import { splitForWrite } from "./file-paths";
import type { FileRoot } from "./file-root";


const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOCTTY = 0o400;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_NONBLOCK = 0o4000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const O_PATH = 0o10000000;
const DEFAULT_MODE = 0o644;

/** What a WriteFile header asks for, checked. */
export interface WritePlan {
  path: string;
  dir: string;
  name: string;
  mode: WriteMode;
  /** Permission bits to set; undefined: 0644 for a new file, an existing file's own for REPLACE. */
  perm?: number;
  uid?: number;
  gid?: number;
}

/** INVALID_ARGUMENT for a header that cannot be written as asked (path, mode bits, write mode). */
export function planWrite(header: WriteFileHeader): WritePlan {
  const { dir, name } = splitForWrite(header.path);
  if (header.mode > 0o7777) throw invalidArgument(`header.mode: at most 07777, got 0${header.mode.toString(8)}`);
  const mode = header.writeMode === WriteMode.UNSPECIFIED ? WriteMode.REPLACE : header.writeMode;
  if (!(mode in WriteMode)) throw invalidArgument(`header.write_mode: unknown value ${header.writeMode}`);
  return { path: header.path, dir, name, mode, ...(header.mode !== 0 ? { perm: header.mode } : {}), ...(header.uid !== undefined ? { uid: header.uid } : {}), ...(header.gid !== undefined ? { gid: header.gid } : {}) };
}

/** Writes every chunk of `data` to `fd`, each whole; stops (throws its reason) once `signal` aborts. */
async function writeAll(root: FileRoot, fd: number, data: AsyncIterable<Uint8Array>, what: string, signal: AbortSignal): Promise<bigint> {
  let total = 0n;
  for await (const chunk of data) {
    if (signal.aborted) throw signal.reason;
    let done = 0;
    while (done < chunk.length) {
      const bytesWritten = await fileCall(what, () => root.io.write(fd, chunk.subarray(done)));
      done += bytesWritten;
    }
    total += BigInt(chunk.length);
  }
  if (signal.aborted) throw signal.reason;
  return total;
}

/**
 * Writes the file `plan` names inside `root`, from `data`:
 * - REPLACE: a temp file beside it (O_EXCL, in the same directory, resolved
 *   once; beside the file a final symlink points to, inside the root),
 *   fdatasync, then renameat over the name: readers see the old
 *   file or the new one, never a mix; a failure or cancel before the
 *   rename removes the temp file and leaves the old one as it was. An
 *   existing file's mode and owner carry over unless the header sets them.
 * - CREATE_NEW: O_EXCL (an existing name, even a symlink: ALREADY_EXISTS).
 * - APPEND, TRUNCATE: the file itself (created when missing), a final
 *   symlink followed inside the root; only a regular file is written.
 * Returns the bytes written.
 */
export async function writeFileIn(root: FileRoot, plan: WritePlan, data: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<bigint> {
  const what = `write ${plan.path} in ${root.label}`;
  if (plan.mode === WriteMode.REPLACE) return replaceFile(root, plan, data, signal, what);
  const flags = O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CREAT | (plan.mode === WriteMode.CREATE_NEW ? O_EXCL : plan.mode === WriteMode.APPEND ? O_APPEND : O_TRUNC);
  const fd = await fileCall(what, () => root.io.openIn(root.fd, plan.path, flags, { mode: plan.perm ?? DEFAULT_MODE, creds: root.creds }));
  try {
    const st = await fileCall(what, () => root.io.statFd(fd));
    if (!isRegular(st.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${plan.path} in ${root.label} is not a regular file`, "NOT_REGULAR_FILE");
    await setAttributes(fd, plan, root, what, plan.perm ?? (plan.mode === WriteMode.CREATE_NEW ? DEFAULT_MODE : undefined));
    return await writeAll(root, fd, data, what, signal);
  } finally {
    await root.io.close(fd);
  }
}

async function setAttributes(fd: number, plan: WritePlan, root: FileRoot, what: string, perm: number | undefined, owner: { uid?: number; gid?: number } = {}): Promise<void> {
  // fchmod after the create: the mode asked for exactly, whatever the daemon's umask.
  if (perm !== undefined) await fileCall(what, () => root.io.chmodFd(fd, perm, root.creds));
  const uid = plan.uid ?? owner.uid;
  const gid = plan.gid ?? owner.gid;
  if (uid !== undefined || gid !== undefined) await fileCall(what, () => root.io.chownFd(fd, { uid, gid }, root.creds));
}

/** Most symlinks REPLACE follows from the path to the file it replaces (the kernel's own limit). */
const MAX_LINK_HOPS = 40;

/**
 * The directory (an O_PATH fd) and name REPLACE writes: the path's, or,
 * when its last component is a symlink, the file it points to, followed
 * (lexically, then resolved again inside the root) up to MAX_LINK_HOPS. A
 * symlink is never replaced by a file: /etc/resolv.conf pointing elsewhere
 * keeps pointing there.
 */
async function replaceTarget(root: FileRoot, plan: WritePlan, what: string): Promise<{ dir: number; name: string; existing?: native.FileStat }> {
  let { dir: dirPath, name } = plan;
  for (let hops = 0; ; hops++) {
    const dir = await fileCall(what, () => root.io.openIn(root.fd, dirPath, O_PATH | O_DIRECTORY, { creds: root.creds }));
    try {
      const existing = await existingFile(dir, name, root);
      if (!existing?.link) return { dir, name, ...(existing ? { existing: existing.st } : {}) };
      if (hops >= MAX_LINK_HOPS) throw new RpcError(status.FAILED_PRECONDITION, `${plan.path} in ${root.label}: more than ${MAX_LINK_HOPS} symlinks`, "ELOOP");
      const next = existing.link.startsWith("/") ? existing.link : path.posix.join(dirPath, existing.link);
      try {
        ({ dir: dirPath, name } = splitForWrite(next));
      } catch {
        throw new RpcError(status.FAILED_PRECONDITION, `${plan.path} in ${root.label} is a symlink to ${JSON.stringify(existing.link)}, which names no file`, "NOT_REGULAR_FILE");
      }
    } catch (err) {
      await root.io.close(dir);
      throw err;
    }
    await root.io.close(dir);
  }
}

async function replaceFile(root: FileRoot, plan: WritePlan, data: AsyncIterable<Uint8Array>, signal: AbortSignal, what: string): Promise<bigint> {
  const { dir, name, existing } = await replaceTarget(root, plan, what);
  let temp: string | undefined;
  let fd: number | undefined;
  try {
    if (existing && isDirectory(existing.mode)) throw new RpcError(status.FAILED_PRECONDITION, `${plan.path} in ${root.label} is a directory`, "EISDIR");
    const keep = existing && isRegular(existing.mode) ? existing : undefined;
    const tempName = `.${name.slice(0, 200)}.lxnsd-${randomBytes(6).toString("hex")}`;
    fd = await fileCall(what, () => root.io.openIn(dir, tempName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, { mode: 0o600, beneath: true, creds: root.creds }));
    temp = tempName;
    const written = await writeAll(root, fd, data, what, signal);
    await setAttributes(fd, plan, root, what, plan.perm ?? (keep ? keep.mode & 0o7777 : DEFAULT_MODE), keep ? { uid: keep.uid, gid: keep.gid } : {});
    await fileCall(what, () => root.io.fdatasync(fd!));
    if (signal.aborted) throw signal.reason;
    await fileCall(what, () => root.io.renameIn(dir, tempName, name, root.creds));
    temp = undefined;
    return written;
  } finally {
    if (fd !== undefined) await root.io.close(fd);
    if (temp !== undefined) await root.io.removeQuietly(dir, temp, root.creds);
    await root.io.close(dir);
  }
}

/** The stat of `name` in `dir` (not followed) and, for a symlink, its target; undefined when there is none. */
async function existingFile(dir: number, name: string, root: FileRoot): Promise<{ st: native.FileStat; link?: string } | undefined> {
  let fd: number;
  try {
    fd = await root.io.openIn(dir, name, O_PATH | O_NOFOLLOW, { beneath: true, creds: root.creds });
  } catch {
    return undefined;
  }
  try {
    const st = await root.io.statFd(fd);
    return isSymlink(st.mode) ? { st, link: await root.io.readLinkFd(fd) } : { st };
  } finally {
    await root.io.close(fd);
  }
}
