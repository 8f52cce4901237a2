import * as path from "node:path";
import { invalidArgument } from "../errors";

/** The longest path the daemon takes (PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

/** Whether `value` is an absolute path already in its normal form (no "//", ".", ".."). */
export function isAbsoluteNormalized(value: string): boolean {
  return path.posix.isAbsolute(value) && path.posix.normalize(value) === value;
}

/**
 * INVALID_ARGUMENT naming `field` unless `value` is an absolute, normalized
 * path without NUL of at most MAX_PATH_LENGTH characters; nothing is
 * looked up. `quote` adds the value to the message.
 */
export function checkAbsolutePath(value: string, field: string, options: { quote?: boolean } = {}): void {
  if (value.includes("\0")) throw invalidArgument(`${field}: contains a NUL byte`);
  if (!isAbsoluteNormalized(value) || value.length > MAX_PATH_LENGTH) {
    throw invalidArgument(`${field}: must be an absolute, normalized path${options.quote ? `, got ${JSON.stringify(value)}` : ""}`);
  }
}

/**
 * Whether the absolute path `value` is `root` or lexically beneath it. A
 * `root` written with a trailing "/" holds only what is strictly beneath it.
 */
export function isBeneath(value: string, root: string): boolean {
  return value === root || root === "/" || value.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** The deepest of `roots` that `value` is beneath (isBeneath), or undefined when none is. */
export function deepestRoot(value: string, roots: readonly string[]): string | undefined {
  return roots.filter((root) => isBeneath(value, root)).sort((a, b) => b.length - a.length)[0];
}

/** Whether one of `values` is beneath one of `roots` (a process's cgroup paths under cgroup prefixes). */
export function anyBeneath(values: readonly string[], roots: readonly string[]): boolean {
  return values.some((value) => roots.some((root) => isBeneath(value, root)));
}
