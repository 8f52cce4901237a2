import type { Scope } from "./scopes";
import { SCOPES } from "./scopes";

/** Which targets an identity may touch; an unset list means no restriction of that kind. */
export interface TargetRules {
  /** cgroup v2 paths a target process must be inside. */
  readonly cgroupPrefixes?: readonly string[];
  /** User namespaces a target namespace must be owned by (at any depth), held open by the daemon. */
  readonly userNamespaces?: readonly HeldNamespace[];
  /** Directories BindMount sources must be beneath; for a restricted identity, none = it may mount nothing. */
  readonly mountSources?: readonly string[];
  /** Kubernetes namespaces a target process's pod must be in (a process of no pod is refused). */
  readonly podNamespaces?: readonly string[];
  /** The Kubernetes namespace of a pod by uid, for podNamespaces: set by the daemon, from kubelet's pod log directory and the CRI runtime's sandboxes. */
  readonly podNamespaceOf?: (uid: string) => string | undefined;
  /**
   * The pod uid of a container by id as the CRI runtime says it, for
   * podNamespaces: a process whose cgroup path names no pod (containerd
   * without a kubepods cgroup parent) is in the pod the runtime says. Set by
   * the daemon when it has a runtime; never from what a container could write.
   */
  readonly podUidOfContainer?: (containerId: string) => string | undefined;
}

/**
 * A namespace the policy names by path, opened once at start and held for
 * the daemon's life: its (dev, ino) cannot be given to another namespace
 * while the fd is open, as a bare inode number in the policy could.
 */
export interface HeldNamespace {
  /** The path as the policy names it, for messages. */
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
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
  /** Releases what the policy holds open (the user namespaces its rules name). */
  close?(): void;
}

/** Without a policy file: whoever may open the unix socket holds every scope; nobody else is known. */
export const OPEN_POLICY: Policy = { open: true, unixOwnerScopes: new Set(SCOPES), identities: [] };

/** A policy file that cannot be read or is invalid: a configuration error (lxnsd exits 2, as for a bad flag). */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
}
