/**
 * How often the admin port renders /metrics. A render walks every metric and reads /proc (the
 * open descriptors among them, one entry per client connection), on the thread that serves
 * requests: a client asking for it in a loop took request time from everyone. Prometheus
 * scrapes a target every few seconds; these bounds are far above that. Measured on the built
 * sidecar (2026-12-04): a render takes 3 ms of CPU at rest and 13 ms with 5,000 client
 * connections open, so 20 a second hold a crowd of scrapers to a quarter of a core at most.
 */
export interface ScrapeRateLimits {
  /** Renders one peer address may ask for in a second; more are refused (429). */
  readonly perPeerPerSecond: number;
  /** Renders in a second for all peers together. */
  readonly totalPerSecond: number;
}

export const DEFAULT_SCRAPE_RATE_LIMITS: ScrapeRateLimits = Object.freeze({
  perPeerPerSecond: 5,
  totalPerSecond: 20,
});

/** Answers whether a scrape may render now, counting it when it may. Windows of one second. */
export interface ScrapeRate {
  allow(peer: string, nowMs: number): boolean;
}

export function createScrapeRate(limits: ScrapeRateLimits): ScrapeRate {
  let windowStart = Number.NEGATIVE_INFINITY;
  let total = 0;
  // Counts of the current window only: emptied when a new one starts, so it holds at most the
  // peers of one second.
  const perPeer = new Map<string, number>();
  return {
    allow(peer, nowMs) {
      if (nowMs - windowStart >= 1_000) {
        windowStart = nowMs;
        total = 0;
        perPeer.clear();
      }
      const mine = perPeer.get(peer) ?? 0;
      if (mine >= limits.perPeerPerSecond || total >= limits.totalPerSecond) return false;
      perPeer.set(peer, mine + 1);
      total++;
      return true;
    },
  };
}
