// The bench's arithmetic and output on fixed inputs: no timing involved.
import { evaluate, meets } from "../../bench/checks";
import { measure } from "../../bench/measure";
import { replaceSection } from "../../bench/readme-section";
import { markdownReport, num } from "../../bench/report";
import type { BenchResults, CaseResult, MemoryResult } from "../../bench/results";
import { cpuPressure } from "../../bench/run-info";
import { benchScale, scaled } from "../../bench/scale";
import { concurrentRate, interleavedSamples, percentile, sequentialRate, summarize } from "../../bench/stats";
import { escapeXml, svgChart } from "../../bench/svg-chart";

function row(id: string, p50Ms: number, rate8: number, side: CaseResult["side"] = "lxnsd"): CaseResult {
  return { id, label: `${id} label`, side, p50Ms, p99Ms: p50Ms * 2, samples: 100, unit: "ops/s", rate: { "1": 1000 / p50Ms, "8": rate8, "64": rate8 } };
}

const CASES: CaseResult[] = [
  row("floor", 0.25, 9000, "baseline"),
  row("inspect", 0.375, 6000), // 1.5× the floor: met
  row("open-close", 0.7, 3000),
  row("run-true", 2, 450), // 2/1.8 = 1.11× the floor of Run: met; 450/480 = 0.94× its rate: met
  row("nsenter-true", 9, 100, "baseline"),
  row("floor-run", 1.8, 480, "baseline"),
  row("physical-floor", 0.5, 2000, "baseline"), // floor of Run ÷ (0.5 + 0.25) = 2.4×
  row("exec-stream", 300, 900),
  row("nsenter-stream", 150, 1200, "baseline"),
  row("list", 80, 20), // 80/50 = 1.6×: missed
  { ...row("lsns", 50, 30, "baseline"), repeatedCalls: 2 },
  row("unshare-close", 1, 900),
  row("unshare-true", 4, 250, "baseline"),
  row("inspect-pid", 0.4, 5000, "baseline"),
  row("inspect-container", 0.5, 4000), // 1.25× Inspect by pid: met
];
const MEMORY: MemoryResult = { streams: 64, bytesPerStream: 16 * 1024 * 1024, rssBeforeMiB: 60, rssPeakSampledMiB: 140, rssAfterMiB: 70, hwmMiB: 151, endRssMiB: 120, endHwmMiB: 190 };
const RESULTS: BenchResults = {
  run: { date: "2026-01-01T00:00:00Z", scale: 1, kernel: "6.18", cpus: 2, cpuModel: "Test CPU", node: "v20", loadBefore: 1.5, loadAfter: 2.25, cpuPressureBefore: 0.5, cpuPressureDuring: 0.755, durationS: 100 },
  cases: CASES,
  memory: MEMORY,
  checks: evaluate(CASES, MEMORY),
};

describe("bench stats", () => {
  it("takes nearest-rank percentiles and the mean", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
    expect(summarize(samples)).toEqual({ p50: 50, p99: 99, mean: 50.5 });
    expect(percentile([7], 99)).toBe(7);
    expect(() => percentile([], 50)).toThrow("no samples");
  });

  it("turns sequential ms samples into a rate", () => {
    expect(sequentialRate([2, 2, 4, 2])).toBeCloseTo(400, 6); // 4 calls in 10 ms
  });

  it("interleaves operations round by round, after the warm-up rounds", async () => {
    const order: string[] = [];
    const op = (name: string) => async () => void order.push(name);
    const samples = await interleavedSamples([op("a"), op("b")], 3, 1);
    expect(order).toEqual(["a", "b", "a", "b", "a", "b", "a", "b"]);
    expect(samples.map((s) => s.length)).toEqual([3, 3]);
  });

  it("takes turns in blocks when asked, the warm-up calls first and unmeasured", async () => {
    const order: string[] = [];
    const op = (name: string) => async () => void order.push(name);
    const samples = await interleavedSamples([op("a"), op("b")], 4, 1, 2);
    expect(order.join("")).toBe("aabbaabbab");
    expect(samples.map((s) => s.length)).toEqual([4, 4]);
  });

  it("makes `settle` unmeasured calls at the start of every block", async () => {
    const order: string[] = [];
    let n = 0;
    const op = (name: string) => async () => void order.push(`${name}${n++}`);
    const samples = await interleavedSamples([op("a"), op("b")], 4, 0, 2, 1);
    expect(order.map((c) => c[0]).join("")).toBe("aaabbbaaabbb");
    expect(samples.map((s) => s.length)).toEqual([4, 4]);
  });

  it("keeps exactly `concurrency` calls in flight and makes `total` of them", async () => {
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const op = async () => {
      calls++;
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
    };
    expect(await concurrentRate(op, 8, 50)).toBeGreaterThan(0);
    expect([calls, most]).toEqual([50, 8]);
  });

  it("measures each subject sequentially and at every concurrency, scaling rates by work", async () => {
    const seen: number[] = [];
    const subject = { id: "s", label: "s", side: "lxnsd" as const, unit: "MB/s" as const, op: (c: number) => async () => void seen.push(c), work: (c: number) => 64 / c };
    const [result] = await measure([subject], { rounds: 4, warmup: 1, calls: (c) => c });
    expect(seen).toEqual([1, 1, 1, 1, 1, ...Array(8).fill(8), ...Array(64).fill(64)]);
    expect(result.samples).toBe(4);
    expect(Object.keys(result.rate)).toEqual(["1", "8", "64"]);
    for (const rate of Object.values(result.rate)) expect(rate).toBeGreaterThan(0);
  });

  it("records the bench process's size for the subjects that fork it, and only for those", async () => {
    const op = () => async () => {};
    const [forking, other] = await measure(
      [
        { id: "f", label: "f", side: "baseline", unit: "ops/s", op, forks: true },
        { id: "o", label: "o", side: "lxnsd", unit: "ops/s", op },
      ],
      { rounds: 1, warmup: 0, calls: (c) => c, concurrencies: [1] },
    );
    expect(forking.callerRssMiB).toBeGreaterThan(10);
    expect(other.callerRssMiB).toBeUndefined();
  });

  it("reads BENCH_SCALE and scales with a floor", () => {
    expect(benchScale({})).toBe(1);
    expect(benchScale({ BENCH_SCALE: "0.1" })).toBe(0.1);
    expect(() => benchScale({ BENCH_SCALE: "fast" })).toThrow("BENCH_SCALE");
    expect(() => benchScale({ BENCH_SCALE: "0" })).toThrow("BENCH_SCALE");
    expect(scaled(3000, 0.1)).toBe(300);
    expect(scaled(15, 0.01, 3)).toBe(3);
  });
});

describe("bench checks", () => {
  it("judges each target from the ratios of one run", () => {
    const byId = new Map(RESULTS.checks.map((c) => [c.id, c]));
    expect(byId.get("inspect-p50")).toMatchObject({ value: 1.5, met: true, speedupGoal: 0.5 });
    expect(byId.get("inspect-p50")!.speedup).toBeCloseTo(1 / 1.5, 9);
    expect(byId.get("run-true-p50")!.met).toBeUndefined();
    expect(byId.get("run-true-p50")!.value).toBeCloseTo(2 / 9, 9);
    expect(byId.get("run-true-rate-8")).toMatchObject({ value: 4.5, speedup: 4.5 });
    expect(byId.get("run-true-floor-p50")).toMatchObject({ met: true, goal: { op: "<=", value: 1.15 } });
    expect(byId.get("run-true-floor-p50")!.value).toBeCloseTo(2 / 1.8, 9);
    expect(byId.get("run-true-floor-rate-8")).toMatchObject({ value: 450 / 480, met: true, goal: { op: ">=", value: 0.9 } });
    expect(byId.get("floor-run-p50")!.value).toBeCloseTo(1.8 / 9, 9);
    expect(byId.get("floor-run-physical-p50")!.value).toBeCloseTo(1.8 / (0.5 + 0.25), 9);
    expect(byId.get("floor-run-physical-p50")!.met).toBeUndefined();
    expect(byId.get("list-p50")).toMatchObject({ value: 1.6, met: false });
    expect(byId.get("daemon-rss")).toMatchObject({ value: 151, unit: "MiB", met: false });
    // Comparisons without a target carry no verdict.
    expect(byId.get("open-close-p50")!.met).toBeUndefined();
    expect(RESULTS.checks.filter((c) => c.goal).map((c) => c.id)).toEqual(["inspect-p50", "run-true-floor-p50", "run-true-floor-rate-8", "list-p50", "inspect-container-p50", "daemon-rss"]);
  });

  it("compares against goals in both directions, inclusively", () => {
    expect(meets(2, { op: "<=", value: 2 })).toBe(true);
    expect(meets(2.01, { op: "<=", value: 2 })).toBe(false);
    expect(meets(4, { op: ">=", value: 4 })).toBe(true);
    expect(meets(3.99, { op: ">=", value: 4 })).toBe(false);
  });

  it("names a missing case", () => {
    expect(() => evaluate(CASES.filter((c) => c.id !== "lsns"), MEMORY)).toThrow('no case "lsns"');
  });
});

describe("bench report", () => {
  const report = markdownReport(RESULTS);

  it("says how big the bench process was when the baselines that fork it ran, and only those", () => {
    expect(report).not.toContain("VmRSS of the bench process");
    const cases = CASES.map((c) => (c.id === "nsenter-true" ? { ...c, label: "execFile nsenter -n -u true", callerRssMiB: 55 } : c));
    expect(markdownReport({ ...RESULTS, cases })).toContain("VmRSS of the bench process, which the baselines fork, when they ran: execFile nsenter -n -u true 55.0 MiB.");
  });

  it("prints every case with p50, p99 and its three rates", () => {
    expect(report).toContain("| case | side | p50 ms | p99 ms | rate @1 | rate @8 | rate @64 | unit |");
    expect(report).toContain("| inspect label | lxnsd | 0.375 | 0.750 | 2667 | 6000 | 6000 | ops/s |");
    expect(report).toContain("| nsenter-true label | baseline | 9.00 | 18.0 | 111 | 100 | 100 | ops/s |");
    expect(report).toContain("load average 1.50 before, 2.25 after; CPU pressure (PSI some) 50% over the minute before, 76% during the run; 100 s.");
    expect(report).toContain("| lsns label (2 failed calls repeated) | baseline |");
  });

  it("shows each target, the value of this run and whether it was met", () => {
    expect(report).toContain("| Inspect p50 ÷ floor p50 | 1.50× | ≤ 2.00× | ✅ met |");
    expect(report).toContain("| Run p50 ÷ floor of Run p50 | 1.11× | ≤ 1.15× | ✅ met |");
    expect(report).toContain("| Run ops/s ÷ floor of Run ops/s, concurrency 8 | 0.938× | ≥ 0.900× | ✅ met |");
    expect(report).toContain("| floor of Run p50 ÷ (physical floor p50 + floor p50) | 2.40× | — |  |");
    expect(report).toContain("| ListNamespaces p50 ÷ lsns p50 | 1.60× | ≤ 1.50× | ❌ missed |");
    expect(report).toContain("| daemon peak RSS (VmHWM) with 64 concurrent Execs | 151 MiB | ≤ 150 MiB | ❌ missed |");
    expect(report).toContain("Targets met: 4 of 6.");
    expect(report).toContain("VmHWM 151 MiB, VmRSS 70.0 MiB after; the daemon that served every other case, at their end: VmRSS 120 MiB, VmHWM 190 MiB.");
  });

  it("formats numbers to about three significant digits", () => {
    expect([num(1234.5), num(12.345), num(1.2345), num(0.12345)]).toEqual(["1235", "12.3", "1.23", "0.123"]);
  });
});

describe("bench chart", () => {
  const svg = svgChart(RESULTS);

  it("draws one bar per comparison, coloured by its verdict, with a mark per target", () => {
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="(#[0-9a-f]+)"\/>/g)].map((m) => m[1]);
    const ratios = RESULTS.checks.filter((c) => c.speedup !== undefined);
    expect(bars).toHaveLength(ratios.length);
    expect(bars.filter((c) => c === "#4caf50")).toHaveLength(4); // inspect, run p50 and rate against the floor of Run, Inspect by container id
    expect(bars.filter((c) => c === "#e53935")).toHaveLength(1); // list
    expect(svg.match(/stroke-width="2"/g)).toHaveLength(5);
    expect(svg).toContain("floor p50 ÷ Inspect p50");
    expect(svg).toContain("151 MiB, target ≤ 150 MiB (missed)");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("escapes text", () => {
    expect(escapeXml(`a<b>&"c"`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;");
  });
});

describe("bench run info", () => {
  it("reads CPU pressure from /proc/pressure/cpu text", () => {
    const text = "some avg10=51.84 avg60=82.20 avg300=68.30 total=2772228300\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    expect(cpuPressure(text)).toEqual({ avg60: expect.closeTo(0.822, 9), totalUs: 2772228300 });
    expect(cpuPressure("nothing like it")).toBeNull();
  });
});

describe("README section", () => {
  it("replaces only what lies between the markers", () => {
    const readme = "# x\n## Benchmarks\n<!-- bench:start -->\nold\n<!-- bench:end -->\n## After\n";
    expect(replaceSection(readme, "new table\n")).toBe("# x\n## Benchmarks\n<!-- bench:start -->\nnew table\n<!-- bench:end -->\n## After\n");
    expect(() => replaceSection("# no markers\n", "t")).toThrow("bench:start");
  });
});
