// BENCH_SCALE shrinks (or grows) every count and size of a run: 0.1 for a quick smoke run.

/** The factor from BENCH_SCALE (default 1); throws on anything but a positive number. */
export function benchScale(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_SCALE;
  if (raw === undefined || raw === "") return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`BENCH_SCALE must be a positive number, not ${JSON.stringify(raw)}`);
  return value;
}

/** `n` times `scale`, rounded, and never below `min`. */
export function scaled(n: number, scale: number, min = 1): number {
  return Math.max(min, Math.round(n * scale));
}
