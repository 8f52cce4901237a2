import { readFileSync } from "node:fs";
import * as path from "node:path";
import fc from "fast-check";

/**
 * The seeds the fuzz suites run with.
 *
 * Under `npm run test:reliability` (CI) every property runs with the same
 * fixed seeds, then with the seed of every bug the fuzzing ever found for it
 * (fuzz-regressions.json), so the same commit gives the same run every time.
 * `npm run fuzz` (test/reliability/fuzz.js) explores instead: one seed, new
 * unless replayed (LXNSD_FUZZ_SEED), and a count (LXNSD_FUZZ_RUNS).
 * A failing run always names its seed and the command that replays it.
 */
export const FIXED_SEEDS = [20261201, 424242];

/** A bug the fuzzing found: the test, the seed and run count that found it, and what it was. */
interface Regression {
  test: string;
  seed: number;
  runs: number;
  found: string;
}

const REGRESSIONS: Regression[] = JSON.parse(readFileSync(path.join(__dirname, "fuzz-regressions.json"), "utf8")) as Regression[];

/** One fc.assert: a seed, how many runs, and why this seed. */
export interface FuzzRun {
  seed: number;
  numRuns: number;
  why: string;
}

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name}=${text}: not an integer`);
  return value;
}

/** The runs of the property TEST whose CI share is RUNS cases (split over the fixed seeds). */
export function fuzzRuns(test: string, runs: number): FuzzRun[] {
  const seed = envInteger("LXNSD_FUZZ_SEED");
  const count = envInteger("LXNSD_FUZZ_RUNS");
  if (seed !== undefined || count !== undefined) {
    return [{ seed: seed ?? Date.now() % 2 ** 31, numRuns: count ?? runs, why: "npm run fuzz" }];
  }
  return [
    ...FIXED_SEEDS.map((fixed) => ({ seed: fixed, numRuns: Math.ceil(runs / FIXED_SEEDS.length), why: "fixed seed" })),
    ...REGRESSIONS.filter((regression) => regression.test === test).map((regression) => ({ seed: regression.seed, numRuns: regression.runs, why: `regression: ${regression.found}` })),
  ];
}

/**
 * fc.assert of PROPERTY for every run of fuzzRuns(TEST, RUNS); a failure
 * names its seed and how to replay it, above fast-check's counterexample.
 */
export async function assertFuzz<T>(test: string, runs: number, property: fc.IAsyncPropertyWithHooks<T>): Promise<void> {
  for (const run of fuzzRuns(test, runs)) {
    try {
      await fc.assert(property, { seed: run.seed, numRuns: run.numRuns });
    } catch (err) {
      const replay = `npm run fuzz -- --seed ${run.seed} --runs ${run.numRuns} --only '${test}'`;
      const message = `${test}: failed with seed ${run.seed} (${run.why}); replay: ${replay}`;
      process.stderr.write(`FUZZ FAILURE ${message}\n`);
      throw new Error(`${message}\n${(err as Error).message}`, { cause: err });
    }
  }
}
