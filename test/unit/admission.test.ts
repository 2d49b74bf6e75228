import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Claimant, createAdmission, type Refusal } from '../../sidecar/src/upstream/admission.ts';

const anon = (ip: string): Claimant => ({ key: `ip:${ip}`, anonymous: true });
const user = (sub: string): Claimant => ({ key: `user:${sub}`, anonymous: false });

describe('upstream admission', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const gate = (overrides: Partial<Parameters<typeof createAdmission>[0]> = {}) =>
    createAdmission({
      capacity: 4,
      anonymousShare: 0.5,
      clientShare: 0.5,
      queueTimeoutMs: 1_000,
      maxQueue: 8,
      ...overrides,
    });

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
    expect(log).toEqual(['bot0:admitted', 'bot3:queue_full']);
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

  it('close refuses everything waiting', () => {
    const g = gate({ capacity: 1, anonymousShare: 1, clientShare: 1 });
    const log: string[] = [];
    ask(g, user('x'), log, 'x');
    ask(g, user('y'), log, 'y');
    g.close();
    expect(log).toEqual(['x:admitted', 'y:queue_timeout']);
  });
});
