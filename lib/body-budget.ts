/**
 * What one request's body may take from a BodyBudget: bytes as they arrive, all given back by
 * release() once the request has been handled.
 */
export interface BodyHold {
  /** Takes `bytes` more; false (nothing taken) when the peer's share or the total would be passed. */
  take(bytes: number): boolean;
  /** Gives back everything this hold took. Safe to call more than once. */
  release(): void;
}

/**
 * Bytes of request bodies a server holds in memory at once: at most `perPeer` for one client
 * address and `total` in all. A body is read into memory only while it fits, so a client that
 * opens many connections and sends large bodies (or trickles them) holds its share and no more.
 */
export class BodyBudget {
  readonly #held = new Map<string, number>();
  #total = 0;
  readonly perPeer: number;
  readonly total: number;
  readonly #changed: (heldBytes: number) => void;

  /** `changed` is told the bytes held in all after every change (for a gauge). */
  constructor(perPeer: number, total: number, changed: (heldBytes: number) => void = () => undefined) {
    this.perPeer = perPeer;
    this.total = total;
    this.#changed = changed;
  }

  /** Bytes held now, in all. */
  get heldBytes(): number {
    return this.#total;
  }

  /** A hold for one request's body from `peer`. */
  holdFor(peer: string): BodyHold {
    let mine = 0;
    return {
      take: (bytes) => {
        const peerHeld = this.#held.get(peer) ?? 0;
        if (peerHeld + bytes > this.perPeer || this.#total + bytes > this.total) return false;
        this.#held.set(peer, peerHeld + bytes);
        this.#total += bytes;
        mine += bytes;
        this.#changed(this.#total);
        return true;
      },
      release: () => {
        if (mine === 0) return;
        const left = (this.#held.get(peer) ?? mine) - mine;
        if (left <= 0) this.#held.delete(peer);
        else this.#held.set(peer, left);
        this.#total -= mine;
        mine = 0;
        this.#changed(this.#total);
      },
    };
  }
}
