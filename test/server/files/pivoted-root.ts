import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType } from "../../../client";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

/** A target whose root was pivoted into a tmpfs of its own, with the host's /usr bound in so it can run `sleep`. */
export interface PivotedTarget extends Target {
  /** A file the host has and the target does not (its path, absolute in both views). */
  hostSecret: string;
  /** Runs `script` with the target's mount namespace and root (nsenter -t PID -m -r). */
  inside(script: string): string;
  /** The target's root as the host reaches it. */
  rootPath: string;
  cleanup(): Promise<void>;
}

/** A NamespaceRef by pid (type MNT). */
export const pidRef = (pid: number) => ({ type: NamespaceType.MNT, source: { case: "pid" as const, value: pid } });

/**
 * Starts `sleep` in a new mount namespace whose root is a fresh tmpfs
 * (pivot_root; the old root detached), holding /usr (bound read-only),
 * bin/lib/sbin links, /proc (unless `proc: false`), /data and /tmp. The host gets a secret file
 * at a path that inside names the target's own file "inner".
 */
export async function startPivoted(options: { proc?: boolean } = {}): Promise<PivotedTarget> {
  const hostDir = mkdtempSync(path.join(tmpdir(), "lxnsd-files-"));
  const hostSecret = path.join(hostDir, "secret");
  execFileSync("sh", ["-c", `echo host secret > ${hostSecret}`]);
  const script = [
    "set -e",
    "R=$(mktemp -d /tmp/lxnsd-root-XXXXXX)",
    "mount -t tmpfs none $R",
    "mkdir -p $R/usr $R/proc $R/data $R/old $R/tmp $R/etc",
    "mount --rbind /usr $R/usr && mount -o remount,bind,ro $R/usr",
    "ln -s usr/bin $R/bin; ln -s usr/lib $R/lib; ln -s usr/lib64 $R/lib64; ln -s usr/sbin $R/sbin",
    options.proc === false ? "true" : "mount -t proc proc $R/proc",
    `mkdir -p $R${hostDir} && echo inner > $R${hostSecret}`,
    "echo hello > $R/data/hello",
    "cd $R && pivot_root . old && umount -l /old && rmdir /old",
    'exec "$@"',
  ].join("\n");
  const target = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]);
  const inside = (cmd: string) => execFileSync("nsenter", ["-t", String(target.pid), "-m", "-r", "sh", "-c", cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return {
    ...target,
    hostSecret,
    inside,
    rootPath: `/proc/${target.pid}/root`,
    cleanup: async () => {
      await target.kill();
      rmSync(hostDir, { recursive: true, force: true });
    },
  };
}
