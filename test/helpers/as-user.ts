import { mkdtempSync, rmdirSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** The checkout: everything a test runs with node (dist/, node_modules/, native/build/) is under it. */
export const CHECKOUT = path.resolve(__dirname, "..", "..");

/** A command line that runs `node SCRIPT ARGS` as another user, and what to undo once it exited. */
export interface AsUser {
  argv: string[];
  /** Removes the (empty) mount point; call once the command exited. */
  done(): void;
}

/**
 * `node SCRIPT ARGS` (SCRIPT under the checkout) as uid/gid UID, no groups, no
 * capabilities, wherever the checkout lives.
 *
 * The checkout may sit in a directory that user cannot enter (root's home is
 * 0700), and so may this node (node_modules/.bin). The command gets a mount
 * namespace of its own (private propagation: nothing leaks to the host) in
 * which the checkout is bind-mounted on an empty world-readable temp dir;
 * node and the script are run from there. Files keep their modes, so the user
 * reads only what any user could read in a checkout it could reach.
 */
export function nodeAsUser(uid: number, script: string, args: string[], options: { groups?: readonly number[] } = {}): AsUser {
  const mountPoint = mkdtempSync(path.join(tmpdir(), "lxnsd-as-user-"));
  chmodSync(mountPoint, 0o755);
  const inside = (file: string): string => {
    const relative = path.relative(CHECKOUT, file);
    return relative.startsWith("..") || path.isAbsolute(relative) ? file : path.join(mountPoint, relative);
  };
  if (inside(script) === script) throw new Error(`nodeAsUser: ${script} is not under ${CHECKOUT}`);
  const argv = [
    "unshare", "--mount", "--propagation", "private", "--",
    "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", CHECKOUT, mountPoint,
    "setpriv", "--reuid", String(uid), "--regid", String(uid),
    ...(options.groups && options.groups.length > 0 ? ["--groups", options.groups.join(",")] : ["--clear-groups"]), "--inh-caps=-all",
    inside(process.execPath), inside(script), ...args,
  ];
  return {
    argv,
    done: () => {
      try {
        rmdirSync(mountPoint);
      } catch {
        // removed already
      }
    },
  };
}
