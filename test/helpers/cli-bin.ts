import { existsSync } from "node:fs";
import * as path from "node:path";

/** lxnsctl as built (`npm run build`, which `npm test` runs first): tests that start it as a process run this file. */
export const CLI_MAIN = path.join(__dirname, "..", "..", "dist", "client", "cli", "main.js");

/** CLI_MAIN, or a clear error when the build has not run. */
export function builtCliMain(): string {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run 'npm run build' (npm test does)`);
  return CLI_MAIN;
}
