import type { Socket } from 'node:net';
import type { ClientConnection, ConnectionRequest, RequestTimeout } from './client-connection.ts';

/**
 * Limits on how slowly a client may send a request (after Apache's mod_reqtimeout) and take its
 * response (after the minimum response data rate of Kestrel and IIS).
 */
export interface ClientRateLimits {
  /** Time allowed for the body before the rate extension (ms); 0 turns the body check off. */
  readonly bodyTimeoutMs: number;
  /** Each this many body bytes received extend the body time by one second. */
  readonly bodyMinRate: number;
  /** Total time from the first byte of the head to the last byte of the body (ms); 0 = none. */
  readonly requestTimeoutMs: number;
  /**
   * Least bytes a second a client must take of a response that waits on it (the sidecar holds
   * what it will not take), averaged over each `idleTimeoutMs` it keeps it waiting; 0 (or an
   * idle timeout of 0) turns the check off.
   */
  readonly sendMinRate: number;
  /** The client idle timeout (ms): the span over which the response rate is averaged. */
  readonly idleTimeoutMs: number;
  /**
   * Least bytes a second a client must send of its body, or take of a response that waits on it,
   * over CONTENDED_GRACE_MS or more, while another caller's request waits for the upstream
   * connection it holds; below, the connection goes to that request. 0 turns it off.
   */
  readonly contendedRate: number;
}

/**
 * How long a body must have been read, or a response have waited on its client, before its
 * upstream connection may go to a request waiting for one (at most the idle timeout for a
 * response): half the default queue timeout, so that the waiting request is served well before
 * its own 10 s run out.
 */
export const CONTENDED_GRACE_MS = 5_000;

/**
 * One check of every connection: its time, and the upstream connections given up in it for
 * requests waiting (a slot is released only once its request has closed, so the next holder
 * asked must not count it as still held).
 */
interface Round {
  readonly now: number;
  freeing: number;
}

/**
 * What the kernel has taken of what was written to a socket: what was written, less what it has
 * not accepted yet (counted as writes complete, up to 64 KiB each).
 */
export function takenByKernel(socket: Socket): number {
  return socket.bytesWritten - socket.writableLength;
}

/** How often the requests in progress are checked (ms). */
const CHECK_INTERVAL_MS = 1_000;

/** The periodic check of requests being read or held up by their clients. */
export interface ClientRateCheck {
  /**
   * A request is being read, or its response waits on its client: runs the check once a second
   * until none is.
   */
  whileActive(): void;
  /** Stops the check for good. */
  close(): void;
}

/**
 * Once a second while a request is being read or a response waits on its client: ends requests
 * whose bodies arrive too slowly (the body timeout, extended a second per `bodyMinRate` bytes
 * received), whose total time ran out, or whose client takes the response too slowly.
 */
export function createClientRateCheck(
  connections: () => Iterable<ClientConnection>,
  limits: ClientRateLimits,
): ClientRateCheck {
  // The check runs only while there is something to check: a sidecar at rest is not woken for
  // it, nor one whose idle keep-alive connections an ingress holds open.
  let check: NodeJS.Timeout | null = null;
  let closed = false;
  const checkReads = (): void => {
    let active = 0;
    const round: Round = { now: performance.now(), freeing: 0 };
    for (const connection of connections()) {
      const request = connection.current;
      if (request === null) continue;
      if (checkReading(connection, limits, round)) active++;
      if (checkSending(connection, limits, round)) active++;
    }
    if (active === 0 && check !== null) {
      clearInterval(check);
      check = null;
    }
  };
  const checkWhileActive = (): void => {
    if (check !== null || closed) return;
    check = setInterval(checkReads, CHECK_INTERVAL_MS);
    check.unref();
  };

  return {
    whileActive: checkWhileActive,
    close() {
      closed = true;
      if (check !== null) clearInterval(check);
      check = null;
    },
  };
}

/**
 * The body and deadline checks of a connection's current request; true while it is being read.
 * A body that arrives at just over `bodyMinRate` keeps the upstream connection it streams to for
 * as long as it lasts (a megabyte at 600 B/s: half an hour), as a response taken slowly does: so
 * while another caller's request waits for that connection, a body sent at under `contendedRate`
 * over CONTENDED_GRACE_MS or more gives it up (408 `body_too_slow`, `upstream_wanted`).
 */
function checkReading(connection: ClientConnection, limits: ClientRateLimits, round: Round): boolean {
  const request = connection.current;
  if (request === null) return false;
  const reading = request.reading();
  if (reading === 'done') return false;
  if (limits.requestTimeoutMs > 0 && round.now - request.startedAtMs > limits.requestTimeoutMs) {
    request.timeout('request_deadline');
    return true;
  }
  if (reading === 'held' || limits.bodyTimeoutMs === 0) return true;
  connection.readingMs += CHECK_INTERVAL_MS;
  const received = connection.socket.bytesRead - connection.bytesReadMark;
  const allowed = limits.bodyTimeoutMs + (received / limits.bodyMinRate) * 1000;
  if (connection.readingMs > allowed) request.timeout('body_too_slow');
  else {
    const rate = (received * 1000) / connection.readingMs;
    yieldsToWaiting(request, 'body_too_slow', connection.readingMs, CONTENDED_GRACE_MS, rate, limits, round);
  }
  return true;
}

/**
 * Gives a slow client's upstream connection to a request of another caller waiting for it (see
 * Admission.wanted): when the client has been at it for `graceMs` or more (`spanMs`), at under
 * the contended rate. True when it did: the request is cut (`upstream_wanted`), and counted in
 * the round as freeing a connection.
 */
function yieldsToWaiting(
  request: ConnectionRequest,
  reason: RequestTimeout,
  spanMs: number,
  graceMs: number,
  rate: number,
  limits: ClientRateLimits,
  round: Round,
): boolean {
  if (spanMs < graceMs || rate >= limits.contendedRate || !request.upstreamWanted(round.freeing))
    return false;
  round.freeing++;
  request.timeout(reason, 'upstream_wanted');
  return true;
}

/**
 * The response rate check of a connection's current request; true while its response waits on
 * its client. A client that reads a few bytes now and then keeps its connection from the idle
 * timeout, and the response's upstream connection from everyone else for as long as the response
 * lasts: 64 such readers from four addresses, each taking 64 bytes a second of a large download,
 * held the anonymous half of the upstream connections, and every anonymous request got 503, for
 * as long as they went on. Each span of the idle timeout the response waits on its client, the
 * client must take `sendMinRate` bytes a second of it on average. The span starts when the
 * response is first found waiting, after the kernel buffers have filled (megabytes on a fast
 * network, which would otherwise count as taken), and again whenever the client has caught up.
 * Such readers may ask again at once, and hold the connections again for as long: so while
 * another caller's request waits for the upstream connection a response holds, a client that has
 * kept it waiting for CONTENDED_GRACE_MS at under `contendedRate` gives it up. Holding the
 * connections then costs a reader that rate each, not a few bytes.
 */
function checkSending(connection: ClientConnection, limits: ClientRateLimits, round: Round): boolean {
  const request = connection.current;
  if (
    request === null ||
    (limits.sendMinRate === 0 && limits.contendedRate === 0) ||
    limits.idleTimeoutMs === 0 ||
    !request.waitsOnClient()
  ) {
    connection.sendSpanStartMs = -1;
    return false;
  }
  const taken = takenByKernel(connection.socket);
  if (connection.sendSpanStartMs < 0) {
    connection.sendSpanStartMs = round.now;
    connection.sendSpanTaken = taken;
    return true;
  }
  const elapsed = round.now - connection.sendSpanStartMs;
  const rate = ((taken - connection.sendSpanTaken) * 1000) / elapsed;
  const grace = Math.min(CONTENDED_GRACE_MS, limits.idleTimeoutMs);
  if (yieldsToWaiting(request, 'response_read_too_slow', elapsed, grace, rate, limits, round)) return true;
  if (elapsed < limits.idleTimeoutMs) return true;
  if (rate < limits.sendMinRate) {
    request.timeout('response_read_too_slow', 'under_min_rate');
    return true;
  }
  connection.sendSpanStartMs = round.now;
  connection.sendSpanTaken = taken;
  return true;
}
