/**
 * The loaded addon, handed the NativeError class, with its namespace table
 * and step names checked against ./ns-types.ts and ./steps.ts: loading
 * fails loudly when the C++ and the TypeScript drift apart.
 */
import { NativeError } from "./native-error";
import { NS_TYPES } from "./ns-types";
import { loadRawNative } from "./raw";
import { STEP } from "./steps";

export const raw = loadRawNative();
raw.init(NativeError);
if (JSON.stringify(raw.NS_TYPES) !== JSON.stringify(NS_TYPES)) {
  throw new Error("lxnsd_native: the addon's namespace table differs from native/lib/ns-types.ts");
}

{
  const ours = [...new Set(Object.values(STEP))].sort();
  const theirs = [...new Set(raw.STEP_NAMES)].sort();
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
    throw new Error(`lxnsd_native: the addon's step names differ from native/lib/steps.ts: ${JSON.stringify(theirs)}`);
  }
}
