import type { Scope } from "./scopes";
import { SCOPES } from "./scopes";

/** Which targets an identity may touch; an unset list means no restriction of that kind. */
export interface TargetRules {
  /** cgroup v2 paths a target process must be inside. */
  readonly cgroupPrefixes?: readonly string[];
  /** Inodes of user namespaces a target namespace must be owned by (at any depth). */
  readonly userNamespaces?: readonly number[];
}

export interface PolicyIdentity {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly tokenHashes: readonly string[];
  readonly certificates: readonly string[];
  readonly unixUids: readonly number[];
  readonly unixGids: readonly number[];
  readonly targets?: TargetRules;
}

/** Who may call the daemon, with which scopes, on which targets. */
export interface Policy {
  /** No policy file: the unix socket's permissions are the only gate (every peer holds every scope). */
  readonly open?: boolean;
  /** Scopes of root and of the daemon's own uid over the unix socket, unless an identity names their uid. */
  readonly unixOwnerScopes: ReadonlySet<Scope>;
  readonly identities: readonly PolicyIdentity[];
}

/** Without a policy file: whoever may open the unix socket holds every scope; nobody else is known. */
export const OPEN_POLICY: Policy = { open: true, unixOwnerScopes: new Set(SCOPES), identities: [] };
