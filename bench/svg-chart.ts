// A hand-built SVG bar chart of a run: each comparison as lxnsd's speed
// against its baseline (higher is better) on a log scale, with its target.
import { num } from "./report";
import type { BenchResults } from "./results";

const WIDTH = 820;
const LABEL_WIDTH = 360;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_WIDTH = WIDTH - PLOT_LEFT - 70;
const ROW = 24;
const TOP = 48;

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Powers of two spanning `values` and at least ¼…4. */
function domain(values: number[]): [number, number] {
  const lo = Math.min(-2, ...values.map((v) => Math.floor(Math.log2(v))));
  const hi = Math.max(2, ...values.map((v) => Math.ceil(Math.log2(v))));
  return [lo, hi];
}

function tickLabel(power: number): string {
  return power >= 0 ? `${2 ** power}×` : `1/${2 ** -power}×`;
}

export function svgChart(results: BenchResults): string {
  const rows = results.checks.filter((c) => c.speedup !== undefined && Number.isFinite(c.speedup) && c.speedup > 0);
  const [lo, hi] = domain(rows.flatMap((r) => [r.speedup!, ...(r.speedupGoal ? [r.speedupGoal] : [])]));
  const x = (v: number) => PLOT_LEFT + ((Math.log2(v) - lo) / (hi - lo)) * PLOT_WIDTH;
  const height = TOP + rows.length * ROW + 56;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">lxnsd against its baselines: speed ratio, higher is better (log scale)</text>`,
    `<text x="10" y="36" fill="#555">${escapeXml(`${results.run.date}, BENCH_SCALE=${results.run.scale}, load ${results.run.loadBefore.toFixed(2)}→${results.run.loadAfter.toFixed(2)}${results.run.cpuPressureDuring === undefined ? "" : `, CPU pressure ${Math.round(results.run.cpuPressureDuring * 100)}% during`}; | marks a target`)}</text>`,
  ];
  const bottom = TOP + rows.length * ROW;
  for (let p = lo; p <= hi; p++) {
    const gx = x(2 ** p).toFixed(1);
    out.push(`<line x1="${gx}" y1="${TOP - 4}" x2="${gx}" y2="${bottom}" stroke="${p === 0 ? "#333" : "#ddd"}"/>`);
    out.push(`<text x="${gx}" y="${bottom + 14}" text-anchor="middle" fill="#555">${tickLabel(p)}</text>`);
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW;
    const [a, b] = [x(1), x(row.speedup!)].sort((m, n) => m - n);
    const fill = row.met === undefined ? "#7a9cc6" : row.met ? "#4caf50" : "#e53935";
    out.push(`<text x="${LABEL_WIDTH}" y="${y + 15}" text-anchor="end">${escapeXml(row.speedupLabel ?? row.label)}</text>`);
    out.push(`<rect x="${a.toFixed(1)}" y="${y + 4}" width="${Math.max(1, b - a).toFixed(1)}" height="${ROW - 8}" fill="${fill}"/>`);
    // The value goes right of the bar and of the target mark, so that neither covers it.
    const textX = Math.max(a, b, row.speedupGoal ? x(row.speedupGoal) : 0) + 4;
    out.push(`<text x="${textX.toFixed(1)}" y="${y + 15}">${num(row.speedup!)}×</text>`);
    if (row.speedupGoal) {
      const gx = x(row.speedupGoal).toFixed(1);
      out.push(`<line x1="${gx}" y1="${y + 1}" x2="${gx}" y2="${y + ROW - 1}" stroke="#000" stroke-width="2"/>`);
    }
  });
  const rss = results.checks.find((c) => c.id === "daemon-rss");
  if (rss) {
    const verdict = rss.met === undefined ? "" : rss.met ? " (met)" : " (missed)";
    out.push(`<text x="10" y="${bottom + 36}">${escapeXml(`${rss.label}: ${num(rss.value)} ${rss.unit}, target ≤ ${num(rss.goal?.value ?? NaN)} ${rss.unit}${verdict}`)}</text>`);
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
