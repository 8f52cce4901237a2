// The markdown a run prints and the README shows.
import { CONCURRENCIES } from "./results";
import type { BenchResults, CaseResult, Check, RunInfo } from "./results";

/** A number with about three significant digits, no exponent. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toString();
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

function percent(share: number | undefined): string {
  return share === undefined ? "?" : `${Math.round(share * 100)}%`;
}

/** CPU pressure, when the kernel reports it: how much of the time something waited for a CPU. */
function pressureText(run: RunInfo): string {
  if (run.cpuPressureBefore === undefined && run.cpuPressureDuring === undefined) return "";
  return `; CPU pressure (PSI some) ${percent(run.cpuPressureBefore)} over the minute before, ${percent(run.cpuPressureDuring)} during the run`;
}

function rateText(rate: number | undefined): string {
  return rate === undefined ? "—" : num(rate);
}

function goalText(check: Check): string {
  if (!check.goal) return "—";
  return `${check.goal.op === "<=" ? "≤" : "≥"} ${num(check.goal.value)}${check.unit === "×" ? "×" : ` ${check.unit}`}`;
}

function metText(check: Check): string {
  if (check.met === undefined) return "";
  return check.met ? "✅ met" : "❌ missed";
}

function valueText(check: Check): string {
  return check.unit === "×" ? `${num(check.value)}×` : `${num(check.value)} ${check.unit}`;
}

/** Where the bench process's size was measured: the baselines that fork it cost more the larger it is. */
function callerText(cases: readonly CaseResult[]): string[] {
  const forking = cases.filter((c) => c.callerRssMiB !== undefined);
  if (forking.length === 0) return [];
  return ["", `VmRSS of the bench process, which the baselines fork, when they ran: ${forking.map((c) => `${c.label} ${num(c.callerRssMiB!)} MiB`).join(", ")}.`];
}

/** The results as markdown: what ran where, every case, the daemon's memory, every check. */
export function markdownReport(results: BenchResults): string {
  const { run, cases, memory, checks } = results;
  const rateHeads = CONCURRENCIES.map((c) => `rate @${c}`);
  const lines = [
    `Run ${run.date}, BENCH_SCALE=${run.scale}, ${run.cpus} × ${run.cpuModel}, Linux ${run.kernel}, Node ${run.node}; ` +
      `load average ${run.loadBefore.toFixed(2)} before, ${run.loadAfter.toFixed(2)} after${pressureText(run)}; ${Math.round(run.durationS)} s.`,
    "",
    `| case | side | p50 ms | p99 ms | ${rateHeads.join(" | ")} | unit |`,
    `|---|---|---:|---:|${rateHeads.map(() => "---:").join("|")}|---|`,
    ...cases.map((c) => `| ${c.label}${c.repeatedCalls ? ` (${c.repeatedCalls} failed calls repeated)` : ""} | ${c.side} | ${num(c.p50Ms)} | ${num(c.p99Ms)} | ${CONCURRENCIES.map((k) => rateText(c.rate[`${k}`])).join(" | ")} | ${c.unit} |`),
    ...callerText(cases),
    "",
    `Daemon memory around ${memory.streams} concurrent Execs of ${num(memory.bytesPerStream / 1024 / 1024)} MiB of stdout each: ` +
      `VmRSS ${num(memory.rssBeforeMiB)} MiB before, ${num(memory.rssPeakSampledMiB)} MiB at the highest sample during, ` +
      `VmHWM ${num(memory.hwmMiB)} MiB, VmRSS ${num(memory.rssAfterMiB)} MiB after` +
      (memory.endRssMiB === undefined ? "." : `; the daemon that served every other case, at their end: VmRSS ${num(memory.endRssMiB)} MiB, VmHWM ${num(memory.endHwmMiB ?? NaN)} MiB.`),
    "",
    "| comparison | this run | target | |",
    "|---|---:|---|---|",
    ...checks.map((c) => `| ${c.label} | ${valueText(c)} | ${goalText(c)} | ${metText(c)} |`),
  ];
  const targets = checks.filter((c) => c.goal);
  lines.push("", `Targets met: ${targets.filter((c) => c.met).length} of ${targets.length}.`);
  return lines.join("\n") + "\n";
}
