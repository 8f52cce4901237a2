import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

/**
 * A temp directory bind-mounted on itself with shared propagation, so a copy
 * of it in a new mount namespace stays a peer of the host's unless someone
 * makes it private. `sub` is an empty directory inside to mount on.
 */
export function sharedMount(): { dir: string; sub: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-shared-"));
  execFileSync("mount", ["--bind", dir, dir]);
  execFileSync("mount", ["--make-shared", dir]);
  const sub = path.join(dir, "sub");
  mkdirSync(sub);
  return {
    dir,
    sub,
    remove: () => {
      execFileSync("umount", ["--recursive", "--lazy", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
