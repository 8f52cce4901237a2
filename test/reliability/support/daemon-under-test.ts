import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { spawnDaemon } from "../../helpers/daemon-process";
import type { DaemonProcess } from "../../helpers/daemon-process";
import { childrenOf, readOrNull, waitFor } from "../../helpers/proc";

/** What a daemon process holds at one moment, as /proc shows it. */
export interface Holdings {
  fds: number;
  /** nsfs fds: one per handle (plus what a request holds while it runs). */
  namespaceFds: number;
  children: { pid: number; state: string }[];
  /** How many fds of each kind ("pipe", "socket", "anon_inode:[pidfd]", "net", a path, …), for messages. */
  kinds: Record<string, number>;
}

/** A daemon in its own process on a temp socket, with temp state, netns and path-root dirs, and a client. */
export interface DaemonUnderTest {
  proc: DaemonProcess;
  pid: number;
  address: string;
  /** The temp dir holding the socket, `state/` (pins), `roots/` (the only --ns-path-root: its entries may be named by path) and `scratch/`. */
  dir: string;
  client: LxnsdClient;
  holdings(): Holdings;
  /** The holdings once they have stayed the same for half a second: a baseline. */
  settled(): Promise<Holdings>;
  /** Waits (up to `timeoutMs`) until fds (sockets: at most as many), namespace fds and children are back to `baseline`; throws with both otherwise. */
  expectBack(baseline: Holdings, timeoutMs?: number): Promise<void>;
  /** SIGTERM; resolves to the exit code. Removes the temp dir (unmounting any pin left). */
  stop(): Promise<number | string>;
}

const NSFS_LINK = /^(user|cgroup|ipc|net|mnt|pid|time|uts|pid_for_children|time_for_children):\[\d+\]$/;

/** The fds of process `pid` and how many of them are nsfs files. */
export function holdingsOf(pid: number): Holdings {
  let fds = 0;
  let namespaceFds = 0;
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (NSFS_LINK.test(link)) namespaceFds++;
      const kind = link.replace(/:\[\d+\]$/, "");
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    } catch {
      // closed meanwhile
    }
  }
  return { fds, namespaceFds, children: childrenOf(pid), kinds };
}

/**
 * Spawns `dist/server/main.js` (optionally under `wrapper`, e.g. prlimit) with
 * everything that could touch the host pointed at a temp dir: pins under
 * `dir/state`, no `ip netns` twin, paths only /proc/PID/ns/TYPE, pins and entries of `dir/roots`.
 */
export async function startDaemonUnderTest(options: { args?: string[]; wrapper?: string[] } = {}): Promise<DaemonUnderTest> {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-rel-"));
  for (const sub of ["state", "roots", "scratch"]) mkdirSync(path.join(dir, sub));
  const address = `unix:${path.join(dir, "lxnsd.sock")}`;
  const args = ["--listen", address, "--state-dir", path.join(dir, "state"), "--netns-dir", "", "--ns-path-root", path.join(dir, "roots")];
  const proc = spawnDaemon([...args, ...(options.args ?? [])], { wrapper: options.wrapper });
  await proc.ready;
  // prlimit execs the daemon, which so keeps the wrapper's pid.
  const pid = proc.proc.pid!;
  const client = createClient(address);
  const holdings = () => holdingsOf(pid);
  return {
    proc,
    pid,
    address,
    dir,
    client,
    holdings,
    settled: async () => {
      let last = JSON.stringify(holdings());
      let since = Date.now();
      await waitFor(
        () => {
          const now = holdings();
          const text = JSON.stringify(now);
          if (text !== last) {
            last = text;
            since = Date.now();
          }
          return Date.now() - since >= 500;
        },
        10000,
        "the daemon's holdings to settle",
      );
      return holdings();
    },
    expectBack: async (baseline, timeoutMs = 5000) => {
      let now = holdings();
      const same = () => {
        now = holdings();
        // Connections come and go with the clients (a baseline may hold one that closes later): sockets may only be
        // fewer; every other fd must be back exactly.
        const sockets = (h: Holdings) => h.kinds.socket ?? 0;
        return (
          now.fds - sockets(now) === baseline.fds - sockets(baseline) &&
          sockets(now) <= sockets(baseline) &&
          now.namespaceFds === baseline.namespaceFds &&
          now.children.length === baseline.children.length
        );
      };
      await waitFor(same, timeoutMs, "the daemon's holdings to return to their baseline").catch(() => {
        const commands = now.children.map((child) => `${child.pid}: ${(readOrNull(`/proc/${child.pid}/cmdline`) ?? "").replace(/\0/g, " ")}`);
        throw new Error(`daemon holdings not back: baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(now)}; children: ${commands.join("; ")}`);
      });
    },
    stop: async () => {
      client.disconnect();
      const code = await proc.stop();
      try {
        execFileSync("umount", ["--recursive", "--lazy", path.join(dir, "state", "ns")], { stdio: "ignore" });
      } catch {
        // nothing was mounted there
      }
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
