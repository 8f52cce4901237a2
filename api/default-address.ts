import * as os from "node:os";
import * as path from "node:path";

/**
 * Where lxnsd listens by default, and so where the client connects: the
 * system socket for root, `$XDG_RUNTIME_DIR/lxnsd.sock` (or a per-user temp
 * dir) otherwise.
 */
export function defaultAddress(uid: number | undefined = process.geteuid?.()): string {
  if (uid === 0) return "unix:/run/lxnsd/lxnsd.sock";
  const dir = process.env.XDG_RUNTIME_DIR || path.join(os.tmpdir(), `lxnsd-${uid ?? "user"}`);
  return `unix:${path.join(dir, "lxnsd.sock")}`;
}
