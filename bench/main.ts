// `npm run bench` (as root): lxnsd and its baselines side by side, one run.
// Prints a markdown table, writes results.json and results.svg (bench/ at
// BENCH_SCALE=1, dist/bench/ otherwise) and, with --readme at full scale, the
// README's Benchmarks section.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { createClient } from "../client";
import type { LxnsdClient } from "../client";
import { execMemory, withRunEnd } from "./cases/exec-memory";
import { cliCases, cliPipeCase } from "./cases/cli";
import { containerCases } from "./cases/containers";
import { execStreamCases } from "./cases/exec-stream";
import { fileStreamCases, fileUnaryCases } from "./cases/files";
import { listCases } from "./cases/list";
import { runCases } from "./cases/run";
import { unaryCases } from "./cases/unary";
import { unshareCases } from "./cases/unshare";
import type { BenchContext } from "./cases/context";
import { cliChecks, evaluate } from "./checks";
import { floorClient } from "./floor";
import { startDaemonProcess, startFloorProcess } from "./processes";
import { replaceSection } from "./readme-section";
import { statusMiB } from "./proc-memory";
import { markdownReport } from "./report";
import type { BenchResults, CaseResult } from "./results";
import { finished, machineInfo } from "./run-info";
import { benchScale } from "./scale";
import { svgChart } from "./svg-chart";
import { startNetUtsTarget } from "./targets";

const ROOT = path.join(__dirname, "..", "..");

const started = Date.now();

function progress(text: string): void {
  process.stderr.write(`bench: ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${text}\n`);
}

/**
 * Every case, in an order that is fair to the baselines: those that fork the
 * bench process (execFile of nsenter, unshare, lsns) cost more the larger it
 * is, so they run first, while it is small (thousands of unary calls at
 * concurrency 64 double it, the Exec streams' output swells it more). The memory case gets a daemon of its own,
 * fresh, as it measures what 64 Execs cost a daemon that did nothing before.
 */
async function measureAll(ctx: BenchContext, address: string, freshDaemon: () => Promise<{ client: LxnsdClient; pid: number; stop(): Promise<unknown> }>): Promise<Omit<BenchResults, "run" | "checks">> {
  const cases: CaseResult[] = [];
  progress(`Run against nsenter and the floor of Run (bench process VmRSS ${statusMiB(process.pid, "VmRSS").toFixed(0)} MiB)`);
  cases.push(...(await runCases(ctx)));
  progress("Unshare+Close against unshare(1)");
  cases.push(...(await unshareCases(ctx)));
  progress("ReadFile 1 KiB and SetSysctl against nsenter cat and nsenter sysctl -w");
  cases.push(...(await fileUnaryCases(ctx)));
  progress("ListNamespaces against lsns (starting the extra processes)");
  cases.push(...(await listCases(ctx)).results);
  progress("Inspect, Open+Close against the grpc-js floor");
  cases.push(...(await unaryCases(ctx)));
  progress("Inspect by container id against Inspect by pid (1,000 containers' cgroups)");
  cases.push(...(await containerCases(ctx)));
  progress("Exec stdout streams against an nsenter pipe");
  cases.push(...(await execStreamCases(ctx)));
  progress("ReadFile 256 MiB against an nsenter head pipe");
  cases.push(...(await fileStreamCases(ctx)));
  cases.push(...(await measureCli(ctx, address)));
  progress("daemon memory with 64 concurrent Execs, on a fresh daemon");
  const fresh = await freshDaemon();
  try {
    const memory = await execMemory({ ...ctx, client: fresh.client, daemonPid: fresh.pid });
    return { cases, memory: withRunEnd(memory, ctx.daemonPid) };
  } finally {
    await fresh.stop();
  }
}

/** lxnsctl's rows: the bin's start-up (--help, exec) and its memory piping 256 MiB. */
async function measureCli(ctx: BenchContext, address: string): Promise<CaseResult[]> {
  progress("lxnsctl --help and exec against node -e 0 and a Run; lxnsctl's memory piping 256 MiB");
  return [...(await cliCases(ctx, address)), await cliPipeCase(ctx, address)];
}

async function main(): Promise<void> {
  const options = new Command()
    .name("bench")
    .option("--readme", "write the table into README.md between <!-- bench:start --> and <!-- bench:end --> (full scale only)")
    .option("--out <dir>", "where results.json and results.svg go (default: bench/ at BENCH_SCALE=1, dist/bench/ otherwise)")
    .option("--only <group>", "run only this group of rows (cli: lxnsctl's), print them and write results-GROUP.json to dist/bench/ (never the README)")
    .parse()
    .opts<{ readme?: boolean; out?: string; only?: string }>();
  if (process.geteuid?.() !== 0) {
    process.stderr.write("bench: must run as root (it joins and creates namespaces)\n");
    process.exit(1);
  }
  const scale = benchScale();
  const outDir = options.out ?? (scale === 1 ? path.join(ROOT, "bench") : __dirname);
  // Made (or refused) now, not after the run: a missing --out dir once threw away a whole run's results.
  mkdirSync(outDir, { recursive: true });
  const start = machineInfo(scale, started);

  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-"));
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  let results: BenchResults;
  try {
    const daemon = await startDaemonProcess(dir);
    cleanup.unshift(() => daemon.stop());
    const floor = await startFloorProcess(dir);
    cleanup.unshift(() => floor.stop());
    const target = await startNetUtsTarget();
    cleanup.unshift(() => target.stop());
    const client = createClient(daemon.address);
    cleanup.unshift(() => client.disconnect());
    const floorCalls = floorClient(floor.address);
    cleanup.unshift(() => floorCalls.close());

    const freshDaemon = async () => {
      const fresh = await startDaemonProcess(mkdtempSync(path.join(dir, "fresh-")));
      const freshClient = createClient(fresh.address);
      return { client: freshClient, pid: fresh.pid, stop: async () => (freshClient.disconnect(), await fresh.stop()) };
    };
    const context = { client, floor: floorCalls.call, floorRun: floorCalls.spawnTrue(target.pid), daemonPid: daemon.pid, targetPid: target.pid, scale };
    if (options.only !== undefined) {
      if (options.only !== "cli") throw new Error(`--only ${options.only}: the groups are: cli`);
      const cases = await measureCli(context, daemon.address);
      const checks = cliChecks(cases);
      const file = path.join(__dirname, `results-${options.only}.json`);
      writeFileSync(file, JSON.stringify({ run: finished(start), cases, checks }, null, 2) + "\n");
      const rows = cases.map((c) => `| ${c.label} | ${c.p50Ms.toFixed(1)} ms | ${c.p99Ms.toFixed(1)} ms | ${c.peakRssMiB === undefined ? "" : `${c.peakRssMiB.toFixed(1)} MiB`} | ${c.callerRssMiB === undefined ? "" : `${c.callerRssMiB.toFixed(0)} MiB`} |`);
      const verdicts = checks.map((c) => `| ${c.label} | ${c.value.toFixed(3)} ${c.unit} | ${c.goal ? `${c.goal.op} ${c.goal.value}` : ""} | ${c.met === undefined ? "" : c.met ? "met" : "missed"} |`);
      process.stdout.write(
        ["| case | p50 | p99 | peak RSS | bench VmRSS |", "| --- | --- | --- | --- | --- |", ...rows, "", "| check | value | target | |", "| --- | --- | --- | --- |", ...verdicts, "", `wrote ${file}`, ""].join("\n"),
      );
      return;
    }
    const measured = await measureAll(context, daemon.address, freshDaemon);
    results = { run: finished(start), ...measured, checks: evaluate(measured.cases, measured.memory) };
  } finally {
    for (const step of cleanup) await step();
  }

  const report = markdownReport(results);
  writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(path.join(outDir, "results.svg"), svgChart(results));
  process.stdout.write(`\n${report}\nwrote ${path.join(outDir, "results.json")} and results.svg\n`);
  if (options.readme) {
    if (scale !== 1) {
      progress("README left alone: --readme only takes full-scale runs (BENCH_SCALE=1)");
    } else {
      const readme = path.join(ROOT, "README.md");
      writeFileSync(readme, replaceSection(readFileSync(readme, "utf8"), `${report}\n![lxnsd against its baselines](bench/results.svg)\n`));
      progress("README.md Benchmarks section updated");
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
