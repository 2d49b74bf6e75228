/**
 * Admission to a pool of limited slots: the sidecar's upstream connections, and its calls to
 * identity providers. The pool has a fixed number of slots; without a gate in front of it,
 * whoever holds them (slow uploads, abandoned requests, one busy client) decides who else is
 * served. The gate bounds the wait for a slot, keeps a share of the slots
 * that anonymous callers cannot take, caps what one caller may hold, and never dispatches a
 * request whose client has already gone.
 */

/** Who is asking: anonymous callers are keyed by client IP, identified ones by identity. */
export interface Claimant {
  readonly key: string;
  readonly anonymous: boolean;
}

/**
 * Why a request was not admitted: the queue held its most (`queue_full`), the caller's share of
 * it was taken by its own waiting requests (`caller_queue_full`), or no slot came in time.
 */
export type Refusal = 'queue_full' | 'caller_queue_full' | 'queue_timeout';

export interface AdmissionSettings {
  /** Slots: the pool's connection count. */
  readonly capacity: number;
  /** Fraction of the slots anonymous callers may hold together, (0, 1]. */
  readonly anonymousShare: number;
  /** Fraction of the slots one caller may hold, (0, 1]. */
  readonly clientShare: number;
  /** Longest wait for a slot before 503 (ms). */
  readonly queueTimeoutMs: number;
  /** Most requests waiting at once; more are refused at once. */
  readonly maxQueue: number;
}

export const DEFAULT_ANONYMOUS_SHARE = 0.5;
export const DEFAULT_CLIENT_SHARE = 0.25;
export const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;

/** A request's place: admitted (with a release) or waiting (with a cancel). */
export interface AdmissionTicket {
  /** Gives the slot back, or leaves the queue; idempotent. */
  release(): void;
}

export interface Admission {
  /**
   * Asks for a slot. `admitted` runs (synchronously when a slot is free) once the request holds
   * one; `refused` runs if it cannot get one. The ticket releases the slot or leaves the queue.
   */
  request(claimant: Claimant, admitted: () => void, refused: (why: Refusal) => void): AdmissionTicket;
  readonly inUse: number;
  readonly waiting: number;
  /** True when every slot is held and none was given back for a whole queue timeout. */
  stalled(nowMs?: number): boolean;
  /**
   * Whether a request of another caller waits for a slot that one held by `holder` would give
   * it, were it given back: the shares allow that caller one more. `freeing`: slots of holders
   * like it already being given back for waiting requests (they count as given).
   */
  wanted(holder: Claimant, freeing?: number): boolean;
  /** Refuses everything waiting (shutdown). */
  close(): void;
}

interface Waiter {
  readonly claimant: Claimant;
  /** Arrival order across all callers. */
  readonly seq: number;
  readonly admitted: () => void;
  readonly refused: (why: Refusal) => void;
  readonly timer: NodeJS.Timeout;
  done: boolean;
  /** Set once admitted: gives the slot back. */
  release?: () => void;
}

/**
 * One caller's waiters in arrival order. A caller's waiters all fit or all do not (the same key,
 * the same share), so only the first that is still waiting is ever a candidate.
 */
interface CallerQueue {
  readonly waiters: Waiter[];
  /** Index of the first waiter that may still be waiting. */
  head: number;
  /** How many of the waiters are still waiting. */
  waiting: number;
}

/** Drops the waiters that left, keeping the others in order. */
function compact(q: CallerQueue): void {
  let kept = 0;
  for (let i = q.head; i < q.waiters.length; i++) {
    const w = q.waiters[i] as Waiter;
    if (!w.done) q.waiters[kept++] = w;
  }
  q.waiters.length = kept;
  q.head = 0;
}

/** Creates the gate for one pool. Settings are checked by the flags that fill them. */
export function createAdmission(settings: AdmissionSettings): Admission {
  const anonymousLimit = Math.max(1, Math.floor(settings.capacity * settings.anonymousShare));
  const clientLimit = Math.max(1, Math.floor(settings.capacity * settings.clientShare));
  const clientQueueLimit = Math.max(1, Math.floor(settings.maxQueue * settings.clientShare));
  const held = new Map<string, number>();
  const callers = new Map<string, CallerQueue>();
  let arrivals = 0;
  let waitingCount = 0;
  let inUse = 0;
  let anonymousInUse = 0;
  let lastReleaseMs = performance.now();

  const fits = (c: Claimant): boolean =>
    inUse < settings.capacity &&
    (!c.anonymous || anonymousInUse < anonymousLimit) &&
    (held.get(c.key) ?? 0) < clientLimit;

  const take = (c: Claimant): AdmissionTicket['release'] => {
    inUse++;
    if (c.anonymous) anonymousInUse++;
    held.set(c.key, (held.get(c.key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inUse--;
      if (c.anonymous) anonymousInUse--;
      const left = (held.get(c.key) ?? 1) - 1;
      if (left === 0) held.delete(c.key);
      else held.set(c.key, left);
      lastReleaseMs = performance.now();
      admitWaiting();
    };
  };

  const leaveQueue = (w: Waiter): void => {
    w.done = true;
    waitingCount--;
    clearTimeout(w.timer);
    const q = callers.get(w.claimant.key);
    if (!q) return; // closed
    q.waiting--;
    // A caller with nobody waiting keeps nothing here, however many callers come and go; one
    // whose left requests outnumber its waiting ones twice drops them.
    if (q.waiting === 0) callers.delete(w.claimant.key);
    else if (q.waiters.length > 2 * q.waiting + 64) compact(q);
  };

  /** The first of a caller's waiters still waiting (a caller in the map has one). */
  const firstWaiting = (q: CallerQueue): Waiter | undefined => {
    while ((q.waiters[q.head] as Waiter | undefined)?.done) q.head++;
    return q.waiters[q.head];
  };

  /**
   * First come, first served among those whose shares allow them a slot now: the earliest
   * waiter that fits is admitted, again and again, until none fits. After this runs no waiter
   * fits, so a new request that fits may take a slot at once without jumping anyone. Each round
   * looks at one waiter per waiting caller, not at every waiter: one caller's hundreds of queued
   * requests cost a release no more than its first.
   */
  const admitWaiting = (): void => {
    while (waitingCount > 0 && inUse < settings.capacity) {
      let earliest: Waiter | undefined;
      for (const q of callers.values()) {
        const first = firstWaiting(q);
        if (first && (earliest === undefined || first.seq < earliest.seq) && fits(first.claimant))
          earliest = first;
      }
      if (!earliest) return;
      leaveQueue(earliest);
      earliest.release = take(earliest.claimant);
      earliest.admitted();
    }
  };

  return {
    request(claimant, admitted, refused) {
      if (fits(claimant)) {
        const release = take(claimant);
        admitted();
        return { release };
      }
      let q = callers.get(claimant.key);
      if (waitingCount >= settings.maxQueue || (q?.waiting ?? 0) >= clientQueueLimit) {
        refused(waitingCount >= settings.maxQueue ? 'queue_full' : 'caller_queue_full');
        return { release: () => undefined };
      }
      const waiter: Waiter = {
        claimant,
        seq: arrivals++,
        admitted,
        refused,
        done: false,
        timer: setTimeout(() => {
          if (waiter.done) return;
          leaveQueue(waiter);
          refused('queue_timeout');
        }, settings.queueTimeoutMs),
      };
      waiter.timer.unref();
      waitingCount++;
      if (!q) {
        q = { waiters: [], head: 0, waiting: 0 };
        callers.set(claimant.key, q);
      }
      q.waiting++;
      q.waiters.push(waiter);
      return {
        release() {
          if (waiter.release) waiter.release();
          else if (!waiter.done) leaveQueue(waiter);
        },
      };
    },
    get inUse() {
      return inUse;
    },
    get waiting() {
      return waitingCount;
    },
    wanted(holder, freeing = 0) {
      if (waitingCount <= freeing) return false;
      const anonymousAfter = anonymousInUse - (holder.anonymous ? 1 + freeing : 0);
      let wanting = 0;
      for (const [key, q] of callers) {
        if (key === holder.key) continue;
        const first = firstWaiting(q);
        if (first === undefined) continue;
        const c = first.claimant;
        if (c.anonymous && anonymousAfter >= anonymousLimit) continue;
        // As many of its waiting requests as its share lets it hold more.
        wanting += Math.min(q.waiting, clientLimit - (held.get(c.key) ?? 0));
        if (wanting > freeing) return true;
      }
      return false;
    },
    stalled(nowMs = performance.now()) {
      return inUse >= settings.capacity && nowMs - lastReleaseMs > settings.queueTimeoutMs;
    },
    close() {
      const all = [...callers.values()].flatMap((q) => q.waiters.slice(q.head));
      callers.clear();
      for (const w of all.sort((a, b) => a.seq - b.seq)) {
        if (w.done) continue;
        leaveQueue(w);
        w.refused('queue_timeout');
      }
    },
  };
}
