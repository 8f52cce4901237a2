// Run of /usr/bin/true joined to a target's net+uts namespaces through a
// daemon in its own process, against child_process.execFile('nsenter', …)
// doing the same from this process: p50 latency and throughput at
// concurrency 8, as ratios from one run. Root only.
//
//   npm run bench      (compiles bench/ and what it imports into dist/)
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

import { NamespaceType, createClient } from "../client";
import { medianMs } from "./timing";

const SEQUENTIAL = 300;
const CONCURRENT = 800;
const CONCURRENCY = 8;
const run = promisify(execFile);

const latency = (once: () => Promise<unknown>): Promise<number> => medianMs(SEQUENTIAL, once);

async function throughput(once: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < CONCURRENT) await once();
    }),
  );
  return CONCURRENT / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) {
    process.stderr.write("bench/run-vs-nsenter: must run as root\n");
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-"));
  const socketPath = path.join(dir, "lxnsd.sock");
  const address = `unix:${socketPath}`;
  const daemon = spawn(process.execPath, [path.join(__dirname, "..", "server", "main.js"), "--listen", address, "--log-level", "warn"], { stdio: "inherit" });
  const target = spawn("unshare", ["--net", "--uts", "sleep", "1000"], { stdio: "ignore" });
  const client = createClient(address);
  try {
    // The daemon is up once its socket exists (slower than a fixed wait on a busy machine).
    for (let waited = 0; !existsSync(socketPath) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    const pid = target.pid!;
    const join = [NamespaceType.NET, NamespaceType.UTS].map((type) => ({ type, source: { case: "pid" as const, value: pid } }));
    const lxnsd = async () => {
      const result = await client.run({ join, argv: ["/usr/bin/true"] });
      if (result.exit.code !== 0) throw new Error(`true exited ${JSON.stringify(result.exit)}`);
    };
    const nsenter = () => run("nsenter", ["-t", String(pid), "-n", "-u", "true"]);
    for (let i = 0; i < 20; i++) await Promise.all([lxnsd(), nsenter()]);

    const rows = [
      { name: "Run /usr/bin/true (lxnsd)", p50: await latency(lxnsd), ops: await throughput(lxnsd) },
      { name: "execFile nsenter -n -u true", p50: await latency(nsenter), ops: await throughput(nsenter) },
    ];
    const [ours, base] = rows;
    console.log(`\n| case (joined to a target's net+uts) | p50 ms | ops/s at concurrency ${CONCURRENCY} |`);
    console.log("|---|---:|---:|");
    for (const row of rows) console.log(`| ${row.name} | ${row.p50.toFixed(2)} | ${row.ops.toFixed(0)} |`);
    console.log(`| ratio lxnsd / nsenter | ${(ours.p50 / base.p50).toFixed(2)} | ${(ours.ops / base.ops).toFixed(2)}× |`);
  } finally {
    client.disconnect();
    target.kill("SIGKILL");
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
