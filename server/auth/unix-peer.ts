/** The peer string lxnsd's unix listener gives a connection: who connected, from SO_PEERCRED. */
export function unixPeerString(cred: { pid: number; uid: number; gid: number }): string {
  return `unix:pid=${cred.pid},uid=${cred.uid},gid=${cred.gid}`;
}

/** The credentials in a peer string made by unixPeerString; undefined for any other peer. */
export function parseUnixPeer(peer: string): { pid: number; uid: number; gid: number } | undefined {
  const match = /^unix:pid=(\d+),uid=(\d+),gid=(\d+)$/.exec(peer);
  return match ? { pid: Number(match[1]), uid: Number(match[2]), gid: Number(match[3]) } : undefined;
}
