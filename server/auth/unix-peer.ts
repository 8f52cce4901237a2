/** Who connected to a unix listener, as the kernel recorded it at connect(): SO_PEERCRED and SO_PEERGROUPS. */
export interface UnixPeer {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups at connect (SO_PEERGROUPS); never read again from /proc, whose pid may be another process by now. */
  readonly groups: readonly number[];
}

/**
 * The peer string lxnsd's unix listener gives a connection (grpc-js's getPeer() of each call on it):
 * `unix:pid=P,uid=U,gid=G,groups=A+B`. It is the only place the connection keeps who connected.
 */
export function unixPeerString(peer: UnixPeer): string {
  return `unix:pid=${peer.pid},uid=${peer.uid},gid=${peer.gid},groups=${peer.groups.join("+")}`;
}

/** The credentials in a peer string made by unixPeerString; undefined for any other peer. */
export function parseUnixPeer(peer: string): UnixPeer | undefined {
  const match = /^unix:pid=(\d+),uid=(\d+),gid=(\d+),groups=((?:\d+(?:\+\d+)*)?)$/.exec(peer);
  if (!match) return undefined;
  const groups = match[4] === "" ? [] : match[4].split("+").map(Number);
  return { pid: Number(match[1]), uid: Number(match[2]), gid: Number(match[3]), groups };
}
