import type { ClientConnection } from './client-connection.ts';

/** Limits on how slowly a client may send a request (after Apache's mod_reqtimeout). */
export interface RequestReadLimits {
  /** Time allowed for the body before the rate extension (ms); 0 turns the body check off. */
  readonly bodyTimeoutMs: number;
  /** Each this many body bytes received extend the body time by one second. */
  readonly bodyMinRate: number;
  /** Total time from the first byte of the head to the last byte of the body (ms); 0 = none. */
  readonly requestTimeoutMs: number;
}

/** How often the reads of requests in progress are checked (ms). */
const CHECK_INTERVAL_MS = 1_000;

/** The periodic check of requests being read: started when one is, stopped when none is. */
export interface ReadRateCheck {
  /** A request is being read: runs the check once a second until none is. */
  whileReading(): void;
  /** Stops the check for good. */
  close(): void;
}

/**
 * Once a second while a request is being read: ends requests whose bodies arrive too slowly (the
 * body timeout, extended a second per `bodyMinRate` bytes received) or whose total time ran out.
 */
export function createReadRateCheck(
  connections: () => Iterable<ClientConnection>,
  limits: RequestReadLimits,
): ReadRateCheck {
  // The check runs only while a request is being read: a sidecar at rest is not woken for it,
  // nor one whose idle keep-alive connections an ingress holds open.
  let check: NodeJS.Timeout | null = null;
  let closed = false;
  const checkReads = (): void => {
    const now = performance.now();
    let beingRead = 0;
    for (const connection of connections()) {
      const request = connection.current;
      if (request === null) continue;
      const reading = request.reading();
      if (reading === 'done') continue;
      beingRead++;
      if (limits.requestTimeoutMs > 0 && now - request.startedAtMs > limits.requestTimeoutMs) {
        request.timeout('request_deadline');
        continue;
      }
      if (reading === 'held' || limits.bodyTimeoutMs === 0) continue;
      connection.readingMs += CHECK_INTERVAL_MS;
      const received = connection.socket.bytesRead - connection.bytesReadMark;
      const allowed = limits.bodyTimeoutMs + (received / limits.bodyMinRate) * 1000;
      if (connection.readingMs > allowed) request.timeout('body_too_slow');
    }
    if (beingRead === 0 && check !== null) {
      clearInterval(check);
      check = null;
    }
  };
  const checkWhileReading = (): void => {
    if (check !== null || closed) return;
    check = setInterval(checkReads, CHECK_INTERVAL_MS);
    check.unref();
  };

  return {
    whileReading: checkWhileReading,
    close() {
      closed = true;
      if (check !== null) clearInterval(check);
      check = null;
    },
  };
}
