import * as path from "node:path";
import { invalidArgument } from "../errors";
import { MAX_PATH_LENGTH } from "../rpc/paths";

/**
 * INVALID_ARGUMENT unless `value` is an absolute path without NUL of at
 * most PATH_MAX characters. "..", "." and symlinks are allowed: openat2
 * RESOLVE_IN_ROOT keeps them inside the root, so they are the kernel's to
 * resolve, not ours to refuse.
 */
export function checkFilePath(value: string, field = "path"): void {
  if (value.includes("\0")) throw invalidArgument(`${field}: contains a NUL byte`);
  if (!value.startsWith("/")) throw invalidArgument(`${field}: must be an absolute path`);
  if (value.length > MAX_PATH_LENGTH) throw invalidArgument(`${field}: longer than ${MAX_PATH_LENGTH} characters`);
}

/**
 * The directory and the name a written file gets: `name` must be a real
 * last component (not "", "." or ".."), since REPLACE renames a file of
 * its own onto exactly that name in exactly that directory.
 */
export function splitForWrite(value: string, field = "path"): { dir: string; name: string } {
  checkFilePath(value, field);
  const trimmed = value.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  if (name === "" || name === "." || name === "..") throw invalidArgument(`${field}: must name a file (its last component may not be empty, "." or "..")`);
  if (trimmed.length !== value.length) throw invalidArgument(`${field}: must name a file, not end in "/"`);
  return { dir: path.posix.dirname(trimmed) || "/", name };
}
