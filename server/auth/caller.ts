import type { TargetRules } from "./policy";
import { SCOPES } from "./scopes";
import type { Scope } from "./scopes";

/** Who a call comes from, as the policy sees it. */
export interface Caller {
  /** The identity, for logs and audit lines: a policy name, or e.g. "unix uid 0". */
  readonly name: string;
  /** What its handles are owned by. */
  readonly key: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Which targets it may touch; undefined = any. */
  readonly targets?: TargetRules;
}

/** A caller with every scope and no restriction (the daemon's own operations, and tests of services alone). */
export const UNRESTRICTED_CALLER: Caller = { name: "lxnsd", key: "lxnsd", scopes: new Set(SCOPES) };
