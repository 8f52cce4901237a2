import { createHash } from "node:crypto";
import { status } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { RpcError } from "../errors";
import type { CallCredentials, CallGate } from "../rpc/add-service";
import type { Caller } from "./caller";
import { parseUnixPeer } from "./unix-peer";
import type { UnixPeer } from "./unix-peer";
import type { Policy, PolicyIdentity } from "./policy";
import { SCOPES } from "./scopes";

/** Unix peers whose callers are remembered at most (one per connection's pid and credentials). */
const MAX_UNIX_CALLERS = 1024;

function unauthenticated(message: string): RpcError {
  return new RpcError(status.UNAUTHENTICATED, message, "UNAUTHENTICATED");
}

function callerOf(identity: PolicyIdentity): Caller {
  return { name: identity.name, key: `identity:${identity.name}`, scopes: identity.scopes, ...(identity.targets ? { targets: identity.targets } : {}) };
}

/** The subject attributes ("CN=x") and subjectAltNames ("DNS:x") a certificate presents. */
function certificateNames(cert: PeerCertificate): Set<string> {
  const names = new Set<string>();
  for (const [key, value] of Object.entries(cert.subject ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) names.add(`${key}=${item}`);
  }
  for (const san of (cert.subjectaltname ?? "").split(", ")) if (san !== "") names.add(san);
  return names;
}

/**
 * Identifies callers by bearer token, client certificate or unix peer
 * credentials (in that order). Credentials that name no identity of the
 * policy: UNAUTHENTICATED (the scope check is the call wrapper's).
 */
export class Authenticator implements CallGate {
  private readonly byToken = new Map<string, Caller>();
  private readonly callers = new Map<PolicyIdentity, Caller>();
  private readonly hasTokens: boolean;
  /** The caller of each unix peer string seen lately (the string is all byUnixPeer reads): every call is identified twice, at its headers and in its handler. */
  private readonly unixCallers = new Map<string, Caller>();

  constructor(
    private readonly policy: Policy,
    /** uids that own the daemon: root and the user it runs as. */
    private readonly ownerUids: readonly number[],
  ) {
    for (const identity of policy.identities) {
      const caller = callerOf(identity);
      this.callers.set(identity, caller);
      for (const hash of identity.tokenHashes) this.byToken.set(hash.slice("sha256:".length), caller);
    }
    this.hasTokens = this.byToken.size > 0;
  }

  /**
   * Whether a unix peer may keep its connection, decided at accept before any byte is read: when the
   * policy names it (uid, primary or supplementary group), it is an owner with unix-owner-scopes, there
   * is no policy, or the policy has token identities (a peer may present a token on its calls; such a
   * peer's calls without a known token are refused at their headers, before their message is read).
   */
  admitsUnixPeer(peer: UnixPeer): boolean {
    if (this.policy.open || this.hasTokens) return true;
    return this.unixIdentity(peer) !== undefined || this.isOwner(peer.uid);
  }

  identify(call: CallCredentials): Caller {
    const authorization = call.metadata.get("authorization");
    if (authorization.length > 0) return this.byBearer(authorization);
    const cert = call.getAuthContext?.().sslPeerCertificate;
    if (cert) return this.byCertificate(cert);
    const peer = call.getPeer();
    const known = this.unixCallers.get(peer);
    if (known) return known;
    const unix = parseUnixPeer(peer);
    if (unix) {
      const caller = this.byUnixPeer(unix);
      if (this.unixCallers.size >= MAX_UNIX_CALLERS) this.unixCallers.clear();
      this.unixCallers.set(peer, caller);
      return caller;
    }
    // A plaintext TCP listener exists only with --insecure-loopback.
    if (this.policy.open) return { name: `loopback ${peer}`, key: "loopback", scopes: new Set(SCOPES) };
    throw unauthenticated("no credentials: send a bearer token or a client certificate the policy knows");
  }

  private byBearer(values: readonly (string | Buffer)[]): Caller {
    const match = values.length === 1 ? /^Bearer ([\x21-\x7e]+)$/i.exec(String(values[0])) : null;
    if (!match) throw unauthenticated('malformed authorization metadata: expected one "Bearer <token>"');
    const caller = this.byToken.get(createHash("sha256").update(match[1]).digest("hex"));
    if (!caller) throw unauthenticated("unknown bearer token");
    return caller;
  }

  private byCertificate(cert: PeerCertificate): Caller {
    const names = certificateNames(cert);
    const identity = this.policy.identities.find((entry) => entry.certificates.some((name) => names.has(name)));
    if (!identity) throw unauthenticated(`client certificate ${[...names].join(", ")} is not an identity of the policy`);
    return this.callers.get(identity)!;
  }

  private unixIdentity(peer: UnixPeer): PolicyIdentity | undefined {
    const groups = new Set([peer.gid, ...peer.groups]);
    return this.policy.identities.find((entry) => entry.unixUids.includes(peer.uid) || entry.unixGids.some((id) => groups.has(id)));
  }

  private isOwner(uid: number): boolean {
    return this.ownerUids.includes(uid) && this.policy.unixOwnerScopes.size > 0;
  }

  /** By the uid and groups the peer had when it connected (SO_PEERCRED, SO_PEERGROUPS), never by /proc of its pid. */
  private byUnixPeer(peer: UnixPeer): Caller {
    const { uid } = peer;
    if (this.policy.open) return { name: `unix uid ${uid}`, key: `unix-uid:${uid}`, scopes: new Set(SCOPES) };
    const identity = this.unixIdentity(peer);
    if (identity) return this.callers.get(identity)!;
    if (this.isOwner(uid)) return { name: `unix uid ${uid}`, key: `unix-uid:${uid}`, scopes: this.policy.unixOwnerScopes };
    throw unauthenticated(`unix peer uid ${uid} is not an identity of the policy`);
  }
}
