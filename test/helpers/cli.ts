import { run } from "../../client/cli/main";
import type { CliIo } from "../../client/cli/main";

/** What one in-process lxnsctl run gave: its exit code and everything it wrote. */
export interface CliOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs lxnsctl in-process with `io` (connect, env, stdin, …), capturing stdout and stderr. */
export async function captureCli(argv: string[], io: Partial<CliIo> = {}): Promise<CliOutput> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), ...io });
  return { code, stdout, stderr };
}
