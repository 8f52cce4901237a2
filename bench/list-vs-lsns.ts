// A full ListNamespaces through gRPC (daemon in its own process) against
// child_process.execFile('lsns', ['--json']) from this process, with 2,000
// extra processes spread over 500 net+uts namespace pairs. Median of a few
// runs each, as a ratio from one run. Root only. Target: ≤ 1.5× lsns.
//
//   npm run bench      (compiles bench/ and what it imports into dist/)
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

import { NamespaceType, createClient } from "../client";
import { medianMs } from "./timing";

const NAMESPACES = 500;
const RUNS = 15;
const run = promisify(execFile);

const timed = (once: () => Promise<unknown>): Promise<number> => medianMs(RUNS, once);

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) {
    process.stderr.write("bench/list-vs-lsns: must run as root\n");
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-"));
  const address = `unix:${path.join(dir, "lxnsd.sock")}`;
  const daemon = spawn(process.execPath, [path.join(__dirname, "..", "server", "main.js"), "--listen", address, "--log-level", "warn"], { stdio: "inherit" });
  // Each group: its own process group (killed as one), its own net+uts namespaces, four sleeps.
  const groups: ChildProcess[] = [];
  for (let i = 0; i < NAMESPACES; i++) {
    groups.push(
      spawn("unshare", ["--net", "--uts", "sh", "-c", "sleep 1000 & sleep 1000 & sleep 1000 & exec sleep 1000"], { stdio: "ignore", detached: true }),
    );
  }
  const client = createClient(address);
  const list = async () => {
    let rows = 0;
    for await (const response of client.listNamespaces({})) rows += response.summary ? 1 : 0;
    return rows;
  };
  try {
    // Wait until the daemon answers and every group's namespaces and sleeps exist.
    for (let attempt = 0; ; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      try {
        let sleeps = 0;
        for await (const response of client.listNamespaces({ types: [NamespaceType.NET] })) {
          if (response.summary?.command === "sleep 1000") sleeps += response.summary.processCount;
        }
        if (sleeps >= 4 * NAMESPACES) break;
      } catch (err) {
        if (attempt > 50) throw err;
      }
    }
    const rows = await list();
    const lsns = () => run("lsns", ["--json"], { maxBuffer: 256 * 1024 * 1024 });
    for (let i = 0; i < 3; i++) await Promise.all([list(), lsns()]);
    const ours = await timed(list);
    const base = await timed(lsns);
    console.log(`\n| full listing, ${rows} namespaces, ${4 * NAMESPACES} extra processes | median ms of ${RUNS} |`);
    console.log("|---|---:|");
    console.log(`| ListNamespaces over gRPC (lxnsd) | ${ours.toFixed(1)} |`);
    console.log(`| execFile lsns --json | ${base.toFixed(1)} |`);
    console.log(`| ratio lxnsd / lsns (target ≤ 1.5) | ${(ours / base).toFixed(2)} |`);
  } finally {
    client.disconnect();
    for (const group of groups) {
      try {
        process.kill(-group.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
