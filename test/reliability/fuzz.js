#!/usr/bin/env node
// npm run fuzz -- [--runs N] [--seed S] [--only TEST]
//
// Explores with the fuzz suites (fuzz-messages, fuzz-wire) outside CI: one
// seed, new each time unless --seed replays one, N runs per property (default:
// CI's count). Prints the seed first, and again with the command that replays
// it when a property fails. CI runs fixed seeds plus every seed that ever found
// a bug (test/reliability/support/fuzz-seeds.ts, fuzz-regressions.json): add
// the seed of each bug found here to fuzz-regressions.json with its fix.
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { parseArgs } = require("node:util");

const USAGE = `usage: npm run fuzz -- [--runs N] [--seed S] [--only TEST]
  --runs N     runs per property (default: as many as CI runs over its fixed seeds)
  --seed S     the seed to replay (default: a new one, printed)
  --only TEST  one property: 'messages: ProcessService.Exec', 'wire: NamespaceService.Open', 'wire: garbage bytes'
As root. A failure prints its seed and the command that replays it.`;

let options;
try {
  ({ values: options } = parseArgs({ options: { runs: { type: "string" }, seed: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } } }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const integer = (name, text, min) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`--${name} ${text}: an integer >= ${min}\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer("seed", options.seed, -(2 ** 31));
const runs = options.runs === undefined ? undefined : integer("runs", options.runs, 1);

const root = path.resolve(__dirname, "..", "..");
let files = ["test/reliability/fuzz-messages.test.ts", "test/reliability/fuzz-wire.test.ts"];
const jestArgs = [];
if (options.only !== undefined) {
  const match = /^(messages|wire): (.+)$/.exec(options.only);
  if (!match) {
    console.error(`--only ${options.only}: 'messages: Service.Method' or 'wire: …'\n${USAGE}`);
    process.exit(2);
  }
  files = [`test/reliability/fuzz-${match[1]}.test.ts`];
  jestArgs.push("-t", match[2].replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
}

const replay = `npm run fuzz -- --seed ${seed}${runs === undefined ? "" : ` --runs ${runs}`}${options.only === undefined ? "" : ` --only '${options.only}'`}`;
console.log(`fuzz: seed ${seed}, ${runs ?? "CI's count of"} runs per property (replay: ${replay})`);
const env = { ...process.env, LXNSD_FUZZ_SEED: String(seed), ...(runs === undefined ? {} : { LXNSD_FUZZ_RUNS: String(runs) }) };
const jest = require.resolve("jest/bin/jest", { paths: [root] });
const result = spawnSync(process.execPath, [jest, "--runInBand", "--config", "jest.reliability.config.js", ...jestArgs, ...files], { cwd: root, env, stdio: "inherit" });
if (result.status === 0) {
  console.log(`fuzz: seed ${seed} passed`);
} else {
  console.error(`fuzz: FAILED with seed ${seed}; replay: ${replay}`);
}
process.exit(result.status ?? 1);
