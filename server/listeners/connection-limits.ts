import type { Socket } from "node:net";
import type { Logger } from "pino";

/** How often a refusal of one peer is logged again, at most. */
const LOG_INTERVAL_MS = 60_000;
/** Most peers whose last refusal log time is remembered; beyond it the memory starts over. */
const MAX_REMEMBERED = 10_000;

/**
 * Counts the connections of every listener, in total and per peer (a unix uid,
 * a TCP client address), and refuses one over either limit at accept. Each
 * peer's refusals are logged once per interval, however many there are.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perPeer = new Map<string, number>();
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly limits: { maxTotal: number; maxPerPeer: number },
    private readonly log: Logger,
  ) {}

  /** Connections open now, in total. */
  get size(): number {
    return this.total;
  }

  /**
   * Counts `socket` against `peer` until it closes; false when it would pass a limit
   * (the caller destroys it, unread).
   */
  admit(peer: string, socket: Socket): boolean {
    const mine = this.perPeer.get(peer) ?? 0;
    if (this.total >= this.limits.maxTotal) return this.refused(peer, `lxnsd holds --max-connections (${this.limits.maxTotal}) connections`);
    if (mine >= this.limits.maxPerPeer) return this.refused(peer, `the peer holds --max-connections-per-peer (${this.limits.maxPerPeer}) connections`);
    this.total++;
    this.perPeer.set(peer, mine + 1);
    socket.once("close", () => {
      this.total--;
      const left = (this.perPeer.get(peer) ?? 1) - 1;
      if (left > 0) this.perPeer.set(peer, left);
      else this.perPeer.delete(peer);
    });
    return true;
  }

  /** Logs a refused connection of `peer`, once per interval per peer; returns false. */
  refused(peer: string, why: string): false {
    const now = Date.now();
    const last = this.lastLogged.get(peer);
    if (last === undefined || now - last >= LOG_INTERVAL_MS) {
      if (this.lastLogged.size >= MAX_REMEMBERED) this.lastLogged.clear();
      this.lastLogged.set(peer, now);
      this.log.warn({ peer, why }, "connection refused (logged once a minute per peer)");
    }
    return false;
  }
}
