// The comparisons a run is judged by: ratios of lxnsd to its baselines, some
// with a target (from the issue), and the daemon's peak memory.
import type { CaseResult, Check, Concurrency, MemoryResult } from "./results";

type Goal = NonNullable<Check["goal"]>;

/** Whether `value` meets `goal`. */
export function meets(value: number, goal: Goal): boolean {
  return goal.op === "<=" ? value <= goal.value : value >= goal.value;
}

function find(cases: readonly CaseResult[], id: string): CaseResult {
  const found = cases.find((c) => c.id === id);
  if (!found) throw new Error(`no case "${id}" in the results`);
  return found;
}

function withGoal(check: Omit<Check, "met">, goal?: Goal): Check {
  return goal ? { ...check, goal, met: meets(check.value, goal) } : check;
}

/** Short names of the cases, for the labels of checks. */
const NAMES: Record<string, string> = {
  floor: "floor",
  inspect: "Inspect",
  "open-close": "Open+Close",
  "run-true": "Run",
  "nsenter-true": "nsenter",
  "floor-run": "floor of Run",
  "physical-floor": "physical floor",
  "exec-stream": "Exec",
  "nsenter-stream": "nsenter pipe",
  list: "ListNamespaces",
  lsns: "lsns",
  "unshare-close": "Unshare+Close",
  "unshare-true": "unshare(1)",
  "read-1k": "ReadFile 1 KiB",
  "nsenter-cat-1k": "nsenter cat",
  "set-sysctl": "SetSysctl",
  "nsenter-sysctl": "nsenter sysctl -w",
  "read-stream": "ReadFile 256 MiB",
  "nsenter-cat-stream": "nsenter head pipe",
  "inspect-pid": "Inspect by pid",
  "inspect-container": "Inspect by container id",
  "cli-help": "lxnsctl --help",
  "node-e0": "node -e 0",
  "cli-exec-true": "lxnsctl exec -n true",
  "run-n-true": "Run in net",
  "cli-pipe": "lxnsctl exec cat",
};
const name = (id: string): string => NAMES[id] ?? id;

/** ours p50 ÷ base p50 (lower is better); its id is `${ours}-p50` unless given. */
function latency(cases: readonly CaseResult[], ours: string, base: string, goal?: Goal, id = `${ours}-p50`): Check {
  const value = find(cases, ours).p50Ms / find(cases, base).p50Ms;
  const speedupGoal = goal ? 1 / goal.value : undefined;
  const speedupLabel = `${name(base)} p50 ÷ ${name(ours)} p50`;
  return withGoal({ id, label: `${name(ours)} p50 ÷ ${name(base)} p50`, value, unit: "×", speedup: 1 / value, speedupLabel, speedupGoal }, goal);
}

/** ours rate ÷ base rate at `concurrency` (higher is better). */
function rate(cases: readonly CaseResult[], ours: string, base: string, concurrency: Concurrency, goal?: Goal): Check {
  const a = find(cases, ours);
  const [x, y] = [a.rate[`${concurrency}`], find(cases, base).rate[`${concurrency}`]];
  if (x === undefined || y === undefined) throw new Error(`no rate of "${ours}" or "${base}" at concurrency ${concurrency}`);
  const value = x / y;
  const label = `${name(ours)} ${a.unit} ÷ ${name(base)} ${a.unit}, concurrency ${concurrency}`;
  return withGoal({ id: `${ours}-rate-${concurrency}`, label, value, unit: "×", speedup: value, speedupLabel: label, speedupGoal: goal?.value }, goal);
}

function withId(check: Check, id: string): Check {
  return { ...check, id };
}

/**
 * The floor of Run against the physical floor plus an empty grpc-js call: what
 * Node.js and gRPC cost around a spawn. Absent from runs without the physical floor.
 */
function physicalFloorChecks(cases: readonly CaseResult[]): Check[] {
  if (!cases.some((c) => c.id === "physical-floor")) return [];
  const value = find(cases, "floor-run").p50Ms / (find(cases, "physical-floor").p50Ms + find(cases, "floor").p50Ms);
  return [{ id: "floor-run-physical-p50", label: "floor of Run p50 ÷ (physical floor p50 + floor p50)", value, unit: "×", speedup: 1 / value, speedupLabel: "(physical floor + floor) p50 ÷ floor of Run p50" }];
}

/** FileService's and SetSysctl's targets (issue 16); absent from runs without their cases. */
function fileChecks(cases: readonly CaseResult[]): Check[] {
  if (!cases.some((c) => c.id === "read-1k")) return [];
  return [
    latency(cases, "read-1k", "nsenter-cat-1k", { op: "<=", value: 0.15 }),
    latency(cases, "set-sysctl", "nsenter-sysctl", { op: "<=", value: 0.15 }),
    rate(cases, "read-stream", "nsenter-cat-stream", 1, { op: ">=", value: 0.8 }),
  ];
}

/**
 * lxnsctl's targets (issue 14): --help and exec against Node's own start-up
 * (exec: plus a Run from a warm process), and its peak RSS piping 256 MiB.
 * Absent from runs without its cases.
 */
export function cliChecks(cases: readonly CaseResult[]): Check[] {
  if (!cases.some((c) => c.id === "cli-help")) return [];
  const ratio = (id: string, label: string, value: number, goal: Goal): Check =>
    withGoal({ id, label, value, unit: "×", speedup: 1 / value, speedupLabel: `1 ÷ (${label})`, speedupGoal: 1 / goal.value }, goal);
  const p50 = (id: string) => find(cases, id).p50Ms;
  const pipe = find(cases, "cli-pipe");
  return [
    ratio("cli-help-p50", "lxnsctl --help p50 ÷ node -e 0 p50", p50("cli-help") / p50("node-e0"), { op: "<=", value: 1.3 }),
    ratio("cli-exec-p50", "lxnsctl exec -n true p50 ÷ (node -e 0 p50 + Run p50)", p50("cli-exec-true") / (p50("node-e0") + p50("run-n-true")), { op: "<=", value: 1.3 }),
    withGoal({ id: "cli-pipe-rss", label: `lxnsctl peak RSS (VmHWM) piping ${pipe.label.replace(/^.*, /, "")}`, value: pipe.peakRssMiB ?? NaN, unit: "MiB" }, { op: "<=", value: 64 }),
  ];
}

/** Every comparison of a run; the ones with `goal` are the targets. */
export function evaluate(cases: readonly CaseResult[], memory: MemoryResult): Check[] {
  return [
    latency(cases, "inspect", "floor", { op: "<=", value: 2 }),
    latency(cases, "open-close", "floor"),
    latency(cases, "run-true", "nsenter-true"),
    rate(cases, "run-true", "nsenter-true", 8),
    rate(cases, "run-true", "nsenter-true", 64),
    latency(cases, "floor-run", "nsenter-true"),
    latency(cases, "run-true", "floor-run", { op: "<=", value: 1.15 }, "run-true-floor-p50"),
    withId(rate(cases, "run-true", "floor-run", 8, { op: ">=", value: 0.9 }), "run-true-floor-rate-8"),
    ...physicalFloorChecks(cases),
    rate(cases, "exec-stream", "nsenter-stream", 1),
    rate(cases, "exec-stream", "nsenter-stream", 8),
    latency(cases, "list", "lsns", { op: "<=", value: 1.5 }),
    latency(cases, "inspect-container", "inspect-pid", { op: "<=", value: 1.5 }),
    latency(cases, "unshare-close", "unshare-true"),
    ...fileChecks(cases),
    ...cliChecks(cases),
    rate(cases, "unshare-close", "unshare-true", 8),
    withGoal(
      { id: "daemon-rss", label: `daemon peak RSS (VmHWM) with ${memory.streams} concurrent Execs`, value: memory.hwmMiB, unit: "MiB" },
      { op: "<=", value: 150 },
    ),
  ];
}
