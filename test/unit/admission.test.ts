import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Claimant, createAdmission, type Refusal } from '../../lib/admission.ts';

const anon = (ip: string): Claimant => ({ key: `ip:${ip}`, anonymous: true });
const user = (sub: string): Claimant => ({ key: `user:${sub}`, anonymous: false });

/** A gate with small defaults; each test overrides what it is about. */
const gate = (overrides: Partial<Parameters<typeof createAdmission>[0]> = {}) =>
  createAdmission({
    capacity: 4,
    anonymousShare: 0.5,
    clientShare: 0.5,
    queueTimeoutMs: 1_000,
    maxQueue: 8,
    ...overrides,
  });

describe('upstream admission', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function ask(g: ReturnType<typeof gate>, who: Claimant, log: string[], name: string) {
    return g.request(
      who,
      () => log.push(`${name}:admitted`),
      (why: Refusal) => log.push(`${name}:${why}`),
    );
  }

  it('keeps the identified share free of anonymous callers, first come first served within shares', () => {
    const g = gate();
    const log: string[] = [];
    const a1 = ask(g, anon('a'), log, 'a1');
    ask(g, anon('b'), log, 'b1');
    ask(g, anon('c'), log, 'c1'); // anonymous share (2) is full
    ask(g, anon('a'), log, 'a2');
    ask(g, user('alice'), log, 'alice1'); // not behind the anonymous queue
    expect(log).toEqual(['a1:admitted', 'b1:admitted', 'alice1:admitted']);
    a1.release();
    expect(log.at(-1)).toBe('c1:admitted');
    expect(g.inUse).toBe(3);
    expect(g.waiting).toBe(1);
  });

  it('caps what one caller holds and queues', () => {
    const g = gate({ clientShare: 0.25, maxQueue: 8 }); // 1 slot and 2 queued places per caller
    const log: string[] = [];
    for (let i = 0; i < 4; i++) ask(g, user('bot'), log, `bot${i}`);
    expect(log).toEqual(['bot0:admitted', 'bot3:caller_queue_full']);
    ask(g, user('alice'), log, 'alice');
    expect(log.at(-1)).toBe('alice:admitted');
  });

  it('bounds the wait: queue_timeout, and queue_full when the queue is full', () => {
    const g = gate({ capacity: 1, anonymousShare: 1, clientShare: 1, maxQueue: 1 });
    const log: string[] = [];
    ask(g, user('x'), log, 'x');
    ask(g, user('y'), log, 'y');
    ask(g, user('z'), log, 'z');
    expect(log).toEqual(['x:admitted', 'z:queue_full']);
    vi.advanceTimersByTime(1_001);
    expect(log.at(-1)).toBe('y:queue_timeout');
    expect(g.waiting).toBe(0);
  });

  it('a request that leaves the queue is never admitted; releases are idempotent', () => {
    const g = gate({ capacity: 1, anonymousShare: 1, clientShare: 1 });
    const log: string[] = [];
    const x = ask(g, user('x'), log, 'x');
    const y = ask(g, user('y'), log, 'y');
    y.release();
    x.release();
    x.release();
    expect(log).toEqual(['x:admitted']);
    expect(g.inUse).toBe(0);
    ask(g, user('z'), log, 'z');
    expect(log.at(-1)).toBe('z:admitted');
  });

  it('is stalled only when every slot is held and none came back for a whole queue timeout', () => {
    const g = gate({ capacity: 1, anonymousShare: 1, clientShare: 1 });
    const log: string[] = [];
    const x = ask(g, user('x'), log, 'x');
    const now = performance.now();
    expect(g.stalled(now)).toBe(false);
    expect(g.stalled(now + 1_500)).toBe(true);
    x.release();
    expect(g.stalled(performance.now() + 500)).toBe(false);
  });

  it("wanted: whether a waiting request of another caller would take a holder's slot", () => {
    // capacity 4: anonymous callers 2 together, each caller 1.
    const g = gate({ clientShare: 0.25 });
    const log: string[] = [];
    expect(g.wanted(anon('a'))).toBe(false); // nobody waits
    ask(g, anon('a'), log, 'a');
    ask(g, anon('b'), log, 'b');
    ask(g, user('u'), log, 'u');
    // The anonymous share is full: the next anonymous caller waits.
    ask(g, anon('c'), log, 'c');
    expect(log).toEqual(['a:admitted', 'b:admitted', 'u:admitted']);
    expect(g.wanted(anon('a'))).toBe(true); // a's slot would go to c
    expect(g.wanted(user('u'))).toBe(false); // u's would not: c is anonymous, and their share is full
    expect(g.wanted(anon('c'))).toBe(false); // its own waiting request is not another caller's
    // A caller that holds its own share already waits for its own slots, not for others'.
    ask(g, user('v'), log, 'v');
    ask(g, user('v'), log, 'v2');
    expect(log.at(-1)).toBe('v:admitted');
    // The pool is full now: v's second waits behind its share; c waits for the anonymous share.
    expect(g.wanted(user('u'))).toBe(false);
    expect(g.wanted(anon('b'))).toBe(true);
  });

  it('close refuses everything waiting', () => {
    const g = gate({ capacity: 1, anonymousShare: 1, clientShare: 1 });
    const log: string[] = [];
    ask(g, user('x'), log, 'x');
    ask(g, user('y'), log, 'y');
    g.close();
    expect(log).toEqual(['x:admitted', 'y:queue_timeout']);
  });
});

/**
 * The admission rule written as plainly as possible, as the specification the gate is checked
 * against: one queue in arrival order; a release scans it from the front and admits every waiter
 * whose shares allow it a slot at that moment.
 */
function specification(settings: {
  capacity: number;
  anonymousShare: number;
  clientShare: number;
  maxQueue: number;
}) {
  const anonymousLimit = Math.max(1, Math.floor(settings.capacity * settings.anonymousShare));
  const clientLimit = Math.max(1, Math.floor(settings.capacity * settings.clientShare));
  const clientQueueLimit = Math.max(1, Math.floor(settings.maxQueue * settings.clientShare));
  const log: string[] = [];
  const holding = new Map<string, Claimant>();
  let queue: { name: string; who: Claimant; at: number }[] = [];
  const count = (list: Iterable<Claimant>, p: (c: Claimant) => boolean) => [...list].filter(p).length;
  const fits = (who: Claimant) =>
    holding.size < settings.capacity &&
    (!who.anonymous || count(holding.values(), (c) => c.anonymous) < anonymousLimit) &&
    count(holding.values(), (c) => c.key === who.key) < clientLimit;
  const scan = () => {
    const left: typeof queue = [];
    for (const w of queue) {
      if (fits(w.who)) {
        holding.set(w.name, w.who);
        log.push(`${w.name}:admitted`);
      } else left.push(w);
    }
    queue = left;
  };
  return {
    log,
    request(name: string, who: Claimant, at: number) {
      if (fits(who)) {
        holding.set(name, who);
        log.push(`${name}:admitted`);
      } else if (queue.length >= settings.maxQueue) log.push(`${name}:queue_full`);
      else if (
        count(
          queue.map((w) => w.who),
          (c) => c.key === who.key,
        ) >= clientQueueLimit
      )
        log.push(`${name}:caller_queue_full`);
      else queue.push({ name, who, at });
    },
    release(name: string) {
      if (holding.delete(name)) scan();
      else queue = queue.filter((w) => w.name !== name);
    },
    timeOut(now: number, timeoutMs: number) {
      for (const w of queue.filter((w) => now - w.at >= timeoutMs)) log.push(`${w.name}:queue_timeout`);
      queue = queue.filter((w) => now - w.at < timeoutMs);
    },
  };
}

describe('upstream admission against its specification', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('admits, refuses and times out the same requests in the same order (fuzzed)', () => {
    const callers = [anon('a'), anon('b'), anon('c'), user('alice'), user('bob'), user('carol')];
    const step = fc.oneof(
      fc.record({ op: fc.constant('request' as const), who: fc.constantFrom(...callers) }),
      fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 600 }) }),
    );
    const shape = fc.record({
      capacity: fc.integer({ min: 1, max: 6 }),
      anonymousShare: fc.constantFrom(0.25, 0.5, 1),
      clientShare: fc.constantFrom(0.25, 0.5, 1),
      maxQueue: fc.integer({ min: 1, max: 12 }),
    });
    fc.assert(
      fc.property(shape, fc.array(step, { maxLength: 80 }), (settings, steps) => {
        vi.setSystemTime(0);
        const timeoutMs = 1_000;
        const gate = createAdmission({ ...settings, queueTimeoutMs: timeoutMs });
        const spec = specification(settings);
        const log: string[] = [];
        const tickets = new Map<string, { release(): void }>();
        let now = 0;
        let n = 0;
        for (const s of steps) {
          if (s.op === 'request') {
            const name = `r${n++}`;
            spec.request(name, s.who, now);
            tickets.set(
              name,
              gate.request(
                s.who,
                () => log.push(`${name}:admitted`),
                (why) => log.push(`${name}:${why}`),
              ),
            );
          } else if (s.op === 'release') {
            const names = [...tickets.keys()];
            const name = names[s.pick % Math.max(1, names.length)];
            if (name === undefined) continue;
            tickets.get(name)?.release();
            tickets.delete(name);
            spec.release(name);
          } else {
            now += s.ms;
            vi.advanceTimersByTime(s.ms);
            spec.timeOut(now, timeoutMs);
          }
          expect(log).toEqual(spec.log);
        }
        gate.close();
      }),
      { numRuns: 2_000, seed: 19 },
    );
  });
});

describe('upstream admission at scale', () => {
  it("a release costs one look per waiting caller, not per waiting request: one caller's 100,000 queued requests", () => {
    // The gate once scanned its whole queue on every release: 20,000 releases here looked at 2e9
    // waiters (160 s on the development machine); now at 20,000 (under half a second).
    const g = gate({ capacity: 128, clientShare: 0.25, queueTimeoutMs: 600_000, maxQueue: 400_000 });
    const bot = user('bot');
    const held: { release(): void }[] = [];
    let admitted = 0;
    const started = performance.now();
    for (let i = 0; i < 100_032; i++) {
      const ticket = g.request(
        bot,
        () => {
          admitted++;
        },
        () => undefined,
      );
      held.push(ticket);
    }
    expect(admitted).toBe(32); // a quarter of the slots
    expect(g.waiting).toBe(100_000);
    for (let i = 0; i < 20_000; i++) (held[i] as { release(): void }).release();
    expect(admitted).toBe(20_032);
    expect(performance.now() - started).toBeLessThan(5_000);
    g.close();
  });

  it('a caller with 140,000 live and 160,000 abandoned requests in its queue: compacted in place, order kept', () => {
    const g = gate({
      capacity: 1,
      anonymousShare: 1,
      clientShare: 1,
      queueTimeoutMs: 600_000,
      maxQueue: 1_000_000,
    });
    const bot = user('bot');
    const admitted: number[] = [];
    const ask = (i: number) =>
      g.request(
        bot,
        () => admitted.push(i),
        () => undefined,
      );
    const tickets = Array.from({ length: 300_001 }, (_, i) => ask(i));
    // Requests 1..300,000 wait; those that give up leave gaps all through the queue.
    for (let i = 1; i <= 300_000; i++) if (i % 15 < 8) (tickets[i] as { release(): void }).release();
    const live = g.waiting;
    expect(live).toBeLessThan(150_000);
    ask(300_001); // past twice the live ones: the queue is compacted
    expect(g.waiting).toBe(live + 1);
    (tickets[0] as { release(): void }).release();
    const next = tickets.findIndex((_, i) => i > 0 && i % 15 >= 8);
    expect(admitted).toEqual([0, next]);
    g.close();
  });
});
