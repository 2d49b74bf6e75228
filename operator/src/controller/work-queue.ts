import { DEFAULT_BACKOFF, jitteredBackoff } from '../../../lib/backoff.ts';

export interface WorkQueueOptions {
  /** Keys processed at the same time (never the same key twice at once). */
  readonly concurrency: number;
  readonly backoff?: { baseMs: number; maxMs: number };
}

/** What the queue does with a key; given at start, so keys can be added before the handlers exist. */
export interface WorkQueueHandler {
  readonly process: (key: string) => Promise<void>;
  readonly onError?: (key: string, error: unknown) => void;
}

/** Longest single delay of addAfter; a key due later is looked at again after this. */
const MAX_DELAY_MS = 24 * 3600_000;

/**
 * Whose turn a key waits for: its namespace (`<prefix>:<namespace>/<name>`), or the cluster for
 * keys of cluster-scoped objects and of the operator's own work.
 */
export function turnOf(key: string): string {
  const colon = key.indexOf(':');
  const slash = key.indexOf('/', colon + 1);
  return slash > colon + 1 ? key.slice(colon + 1, slash) : '';
}

/**
 * A per-key work queue, like client-go's: a key added many times before it runs is processed once;
 * a key added while it runs is processed again afterwards; failures are retried with per-key
 * jittered backoff; one key is never processed twice at once. Namespaces take turns: the next key
 * is the oldest of the namespace whose turn it is, so a namespace with hundreds of keys queued
 * (a team changing its applications, or one with many) does not hold back another's change
 * behind all of them, as one line in arrival order did.
 */
export class WorkQueue {
  readonly #options: WorkQueueOptions;
  /** Keys waiting, by namespace, each in arrival order; namespaces with keys waiting, in turn. */
  readonly #waiting = new Map<string, string[]>();
  readonly #turns: string[] = [];
  #waitingCount = 0;
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirtyWhileRunning = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #delayed = new Map<string, NodeJS.Timeout>();
  #handler: WorkQueueHandler | undefined;
  #active = 0;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    this.#options = options;
  }

  /** Starts processing: keys added so far and from now on go to the handler. */
  start(handler: WorkQueueHandler): void {
    this.#handler = handler;
    this.#pump();
  }

  /** Keys waiting, running or scheduled for retry. */
  get depth(): number {
    return this.#waitingCount + this.#running.size + this.#timers.size;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirtyWhileRunning.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const retry = this.#timers.get(key);
    if (retry) {
      clearTimeout(retry);
      this.#timers.delete(key);
    }
    this.#queued.add(key);
    const turn = turnOf(key);
    const waiting = this.#waiting.get(turn);
    if (waiting) waiting.push(key);
    else {
      this.#waiting.set(turn, [key]);
      this.#turns.push(turn);
    }
    this.#waitingCount++;
    this.#pump();
  }

  /** Adds the key after a delay (a revocation's expiry, the next certificate check); one timer per key. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#delayed.get(key));
    const timer = setTimeout(
      () => {
        this.#delayed.delete(key);
        this.add(key);
      },
      Math.max(0, Math.min(ms, MAX_DELAY_MS)),
    );
    timer.unref();
    this.#delayed.set(key, timer);
  }

  #pump(): void {
    if (!this.#handler) return;
    while (this.#active < this.#options.concurrency && this.#waitingCount > 0) {
      const key = this.#next();
      this.#queued.delete(key);
      this.#running.add(key);
      this.#active++;
      void this.#run(key);
    }
    if (this.depth === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** The oldest key of the namespace whose turn it is; that namespace goes to the back of the line. */
  #next(): string {
    const turn = this.#turns.shift() as string;
    const waiting = this.#waiting.get(turn) as string[];
    const key = waiting.shift() as string;
    if (waiting.length > 0) this.#turns.push(turn);
    else this.#waiting.delete(turn);
    this.#waitingCount--;
    return key;
  }

  async #run(key: string): Promise<void> {
    const handler = this.#handler as WorkQueueHandler;
    try {
      await handler.process(key);
      this.#failures.delete(key);
    } catch (error) {
      handler.onError?.(key, error);
      const attempt = this.#failures.get(key) ?? 0;
      this.#failures.set(key, attempt + 1);
      if (!this.#stopped && !this.#dirtyWhileRunning.has(key)) {
        const timer = setTimeout(
          () => {
            this.#timers.delete(key);
            this.add(key);
          },
          jitteredBackoff(attempt, this.#options.backoff ?? DEFAULT_BACKOFF),
        );
        timer.unref();
        this.#timers.set(key, timer);
      }
    } finally {
      this.#running.delete(key);
      this.#active--;
      if (this.#dirtyWhileRunning.delete(key)) this.add(key);
      this.#pump();
    }
  }

  /** Resolves when nothing is queued, running or waiting for a retry. */
  drained(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Accepts no new keys and drops pending retries and delayed keys; running keys finish. */
  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
    this.#turns.length = 0;
    this.#waitingCount = 0;
    this.#queued.clear();
    for (const t of [...this.#timers.values(), ...this.#delayed.values()]) clearTimeout(t);
    this.#timers.clear();
    this.#delayed.clear();
  }
}
