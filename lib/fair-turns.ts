/**
 * Runs CPU-heavy work one job at a time, with the event loop turning between two jobs, and
 * shares the thread between clients by the time each has had: the next job is the oldest one of
 * the client with the least thread time so far (a client that just arrived starts level with the
 * least served, so it cannot bank time while away). Without it, every request body that came in
 * one turn of the event loop was parsed back to back, and a client could hold the thread (and the
 * operator's revocations with it) for as long as its bodies took.
 */

/** One piece of work for one client. */
export interface TurnJob {
  /** The work itself, synchronous: its time is charged to its client. */
  run(): void;
  /** `run` threw: the job answers for itself (the line goes on). */
  failed(error: unknown): void;
  /** The job will not run: the line was full, or it waited past the bound. */
  refused(why: TurnRefusal): void;
}

export type TurnRefusal = 'busy' | 'late';

export interface FairTurnsLimits {
  /** Most jobs waiting at once, from all clients; more are refused `busy` at once. */
  readonly maxWaiting: number;
}

interface Waiting {
  readonly job: TurnJob;
  timer?: NodeJS.Timeout;
}

interface Client {
  /** Thread time (ms) this client's jobs have had, on the common clock (see #floor). */
  usedMs: number;
  readonly jobs: Waiting[];
}

export class FairTurns {
  readonly #limits: FairTurnsLimits;
  readonly #clients = new Map<string, Client>();
  readonly #waitingChanged: (waiting: number) => void;
  #waiting = 0;
  /**
   * Where a client with nothing waiting stands when it adds a job: the thread time of the least
   * served client at the last turn (the one served), or, when the line emptied, of the last served.
   */
  #floor = 0;
  #scheduled = false;

  /** `waitingChanged` is told the jobs waiting after every change (for a gauge). */
  constructor(limits: FairTurnsLimits, waitingChanged: (waiting: number) => void = () => undefined) {
    this.#limits = limits;
    this.#waitingChanged = waitingChanged;
  }

  /** Jobs waiting for their turn. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Puts a job in line for `key` (a client address); it runs in a later turn of the event loop,
   * or is refused `late` if still waiting after `maxWaitMs`. Returns the function that takes it
   * out of line unrun (its client left); safe to call at any time.
   */
  add(key: string, maxWaitMs: number, job: TurnJob): () => void {
    if (this.#waiting >= this.#limits.maxWaiting) {
      job.refused('busy');
      return () => undefined;
    }
    let client = this.#clients.get(key);
    if (!client) {
      client = { usedMs: this.#floor, jobs: [] };
      this.#clients.set(key, client);
    } else if (client.jobs.length === 0) client.usedMs = Math.max(client.usedMs, this.#floor);
    const { jobs } = client;
    const waiting: Waiting = { job };
    const leave = (): boolean => {
      const at = jobs.indexOf(waiting);
      if (at < 0) return false;
      jobs.splice(at, 1);
      clearTimeout(waiting.timer);
      this.#setWaiting(this.#waiting - 1);
      return true;
    };
    waiting.timer = setTimeout(() => {
      if (leave()) job.refused('late');
    }, maxWaitMs).unref();
    jobs.push(waiting);
    this.#setWaiting(this.#waiting + 1);
    this.#schedule();
    return () => void leave();
  }

  #setWaiting(waiting: number): void {
    this.#waiting = waiting;
    this.#waitingChanged(waiting);
  }

  #schedule(): void {
    if (this.#scheduled || this.#waiting === 0) return;
    this.#scheduled = true;
    // After the I/O of this turn: a revocation, a heartbeat or a probe that came meanwhile is
    // handled before the next job, never behind a queue of them.
    setImmediate(() => {
      this.#scheduled = false;
      this.#runOne();
      this.#schedule();
    });
  }

  /** The waiting client with the least thread time; clients with nothing waiting are forgotten once level. */
  #next(): Client | undefined {
    // Linear in the clients remembered: the addresses with jobs waiting, or served more than the
    // floor; a job costs milliseconds, a step of this loop nanoseconds.
    let best: Client | undefined;
    for (const [key, client] of this.#clients) {
      if (client.jobs.length === 0) {
        if (client.usedMs <= this.#floor) this.#clients.delete(key);
        continue;
      }
      if (!best || client.usedMs < best.usedMs) best = client;
    }
    return best;
  }

  /** Runs the next job, and charges its time to its client. */
  #runOne(): void {
    const client = this.#next();
    if (!client) return;
    const waiting = client.jobs.shift() as Waiting;
    clearTimeout(waiting.timer);
    this.#setWaiting(this.#waiting - 1);
    const startMs = performance.now();
    try {
      waiting.job.run();
    } catch (error) {
      waiting.job.failed(error);
    }
    this.#floor = Math.max(this.#floor, client.usedMs);
    client.usedMs += performance.now() - startMs;
    // Nothing waits: a client that comes now starts level with the one served last.
    if (this.#waiting === 0) this.#floor = client.usedMs;
  }
}
