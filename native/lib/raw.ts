/**
 * The raw surface of the C++ addon `lxnsd_native`, exactly as C++ exports
 * it, and the one loader for it. Only `./index.ts` uses this file; the
 * server imports the wrapper.
 */
import * as path from "node:path";

import type { NativeError } from "./native-error";

/** One row of the addon's ordered namespace table (join order). */
export interface RawNsType {
  name: string;
  flag: number;
}

/** The spec object `runChild` accepts (validated again by C++). */
export interface RawChildSpec {
  join?: Array<{ fd: number; nstype: number }>;
  unshareFlags?: number;
  idMap?: { uidMap: string; gidMap: string; setgroups: "allow" | "deny" };
  timensOffsets?: string;
  hostname?: string;
  loopbackUp?: boolean;
  writeFile?: { path: string; data: string };
  readFile?: { path: string; maxBytes: number };
  holdNs?: string[];
  timeoutMs?: number;
  /** Test only: the child sleeps this long before holdNs/exit. */
  debugSleepMs?: number;
  /** Test only: force the clone flavour ("auto" picks per request). */
  debugCloneMode?: "auto" | "vm" | "fork";
}

export interface RawChildResult {
  fds: number[];
  data?: Buffer;
  /** Present when a new pid namespace was unshared and pid_for_children held. */
  keeper?: { pid: number; fd: number };
}

export type RawChildDone = (err: NativeError | null, result?: RawChildResult) => void;

export interface RawNative {
  NS_TYPES: RawNsType[];
  init(errorClass: new (...args: never[]) => Error): void;
  openPath(path: string): number;
  pidfdOpen(pid: number): number;
  close(fd: number): void;
  nsStat(fd: number): { ino: bigint; dev: bigint; nstype: number };
  nsGetUserns(fd: number): number;
  nsGetParent(fd: number): number;
  nsGetOwnerUid(fd: number): number;
  runChild(spec: RawChildSpec, done: RawChildDone): number;
  cancelChild(pid: number): boolean;
  runningChildren(): number;
}

/** Where the addon may be, relative to this file: from the sources
 * (native/lib/) and from the compiled output (dist/native/lib/). */
const CANDIDATES = [
  "../build/Release/lxnsd_native.node",
  "../../../native/build/Release/lxnsd_native.node",
];

/**
 * Loads the addon. Throws one Error listing every path tried and why each
 * failed.
 */
export function loadRawNative(): RawNative {
  const failures: string[] = [];
  for (const candidate of CANDIDATES) {
    const full = path.resolve(__dirname, candidate);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(full) as RawNative;
    } catch (err) {
      failures.push(`  ${full}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    `lxnsd_native: cannot load the addon (run \`npm install\` or ` +
      `\`node-gyp rebuild --directory native\`); tried:\n${failures.join("\n")}`,
  );
}
