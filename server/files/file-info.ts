import * as path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { FileType } from "../../api/gen/lxnsd/v1/file_service_pb";
import type { FileInfoSchema } from "../../api/gen/lxnsd/v1/file_service_pb";
import type * as native from "../../native/lib";

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Whether an st_mode is a regular file, a directory, a symlink. */
export const isRegular = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isDirectory = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isSymlink = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;

function fileType(mode: number): FileType {
  if (isRegular(mode)) return FileType.REGULAR;
  if (isDirectory(mode)) return FileType.DIRECTORY;
  if (isSymlink(mode)) return FileType.SYMLINK;
  return FileType.OTHER;
}

/** A FileInfo from an fstat: `name` as given, `link` the symlink's target ("" for none). */
export function fileInfo(name: string, st: native.FileStat, link = ""): MessageInitShape<typeof FileInfoSchema> {
  return {
    name,
    type: fileType(st.mode),
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    modified: { seconds: BigInt(st.mtimeSec), nanos: st.mtimeNsec },
    linkTarget: link,
  };
}

/** The name Stat reports for `file`: its last component, "/" for the root. */
export function lastComponent(file: string): string {
  return path.posix.basename(file) || "/";
}
