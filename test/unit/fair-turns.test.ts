import { describe, expect, it } from 'vitest';
import { FairTurns, type TurnJob, type TurnRefusal } from '../../lib/fair-turns.ts';

/** Holds the thread for `ms`, as parsing a large body does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

interface Recorded {
  readonly ran: string[];
  readonly refused: [string, TurnRefusal][];
  readonly failed: string[];
}

function recorder(): Recorded & { job(name: string, ms: number, then?: () => void): TurnJob } {
  const ran: string[] = [];
  const refused: [string, TurnRefusal][] = [];
  const failed: string[] = [];
  return {
    ran,
    refused,
    failed,
    job: (name, ms, then) => ({
      run() {
        ran.push(name);
        busy(ms);
        then?.();
      },
      refused: (why) => refused.push([name, why]),
      failed: () => failed.push(name),
    }),
  };
}

const settled = (turns: FairTurns): Promise<void> =>
  new Promise((resolve) => {
    const check = (): void => {
      if (turns.waiting === 0) setImmediate(resolve);
      else setTimeout(check, 5);
    };
    check();
  });

describe('FairTurns', () => {
  it('runs one job per turn of the event loop: a timer due meanwhile is not held behind the line', async () => {
    const turns = new FairTurns({ maxWaiting: 100 });
    const r = recorder();
    for (let i = 0; i < 6; i++) turns.add('a', 60_000, r.job(`a${i}`, 40));
    // A 5 ms timer, again and again, while 240 ms of work waits: run back to back, the work
    // would hold it 240 ms; one job at a time, a little over 40 ms at most.
    let latest = performance.now();
    let worstGap = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - latest);
      latest = now;
    }, 5);
    await settled(turns);
    clearInterval(tick);
    expect(r.ran).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    expect(worstGap).toBeLessThan(150);
  });

  it('gives the next turn to the client that has had the least time: a small job goes before a flood', async () => {
    const turns = new FairTurns({ maxWaiting: 100 });
    const r = recorder();
    for (let i = 0; i < 5; i++) turns.add('flood', 60_000, r.job(`f${i}`, 20));
    turns.add('api-server', 60_000, r.job('small', 1));
    await settled(turns);
    // Both start level; the flood's first job runs, then the client that has had nothing.
    expect(r.ran).toEqual(['f0', 'small', 'f1', 'f2', 'f3', 'f4']);
  });

  it('a client that comes back starts level with the last served: time away is not banked', async () => {
    const turns = new FairTurns({ maxWaiting: 100 });
    const r = recorder();
    // `away` has 1 ms, then waits for nothing while `busy` has 100 ms.
    turns.add('away', 60_000, r.job('w0', 1));
    turns.add('busy', 60_000, r.job('b0', 50));
    turns.add('busy', 60_000, r.job('b1', 50));
    await settled(turns);
    expect(r.ran).toEqual(['w0', 'b0', 'b1']);
    for (let i = 1; i <= 4; i++) turns.add('away', 60_000, r.job(`w${i}`, 20));
    for (let i = 2; i <= 5; i++) turns.add('busy', 60_000, r.job(`b${i}`, 20));
    await settled(turns);
    // Level, they take turns (`away` first: it came first). Had `away` kept its 1 ms, its four
    // jobs would all go first; levelled with the least served of the last turn (b1's 50 ms),
    // three would.
    expect(r.ran.slice(3, 5)).toEqual(['w1', 'b2']);
    expect(r.ran.slice(3).filter((n) => n.startsWith('w'))).toEqual(['w1', 'w2', 'w3', 'w4']);
  });

  it('refuses a job at once when the line is full (busy), and counts what waits', async () => {
    const seen: number[] = [];
    const turns = new FairTurns({ maxWaiting: 2 }, (waiting) => seen.push(waiting));
    const r = recorder();
    turns.add('a', 60_000, r.job('a0', 1));
    turns.add('b', 60_000, r.job('b0', 1));
    turns.add('c', 60_000, r.job('c0', 1));
    expect(r.refused).toEqual([['c0', 'busy']]);
    expect(turns.waiting).toBe(2);
    await settled(turns);
    expect(r.ran).toEqual(['a0', 'b0']);
    expect(seen).toEqual([1, 2, 1, 0]);
  });

  it('refuses a job still waiting after its bound (late), and never runs it', async () => {
    const turns = new FairTurns({ maxWaiting: 10 });
    const r = recorder();
    turns.add('a', 60_000, r.job('slow', 150));
    turns.add('b', 50, r.job('waits', 1));
    await settled(turns);
    expect(r.ran).toEqual(['slow']);
    expect(r.refused).toEqual([['waits', 'late']]);
  });

  it('a job taken out of line (its client left) is neither run nor refused', async () => {
    const turns = new FairTurns({ maxWaiting: 10 });
    const r = recorder();
    turns.add('a', 60_000, r.job('first', 5));
    const leave = turns.add('b', 60_000, r.job('left', 5));
    turns.add('c', 60_000, r.job('third', 5));
    leave();
    leave();
    expect(turns.waiting).toBe(2);
    await settled(turns);
    expect(r.ran).toEqual(['first', 'third']);
    expect(r.refused).toEqual([]);
  });

  it('a job that throws is told so, and the line goes on', async () => {
    const turns = new FairTurns({ maxWaiting: 10 });
    const r = recorder();
    turns.add(
      'a',
      60_000,
      r.job('throws', 1, () => {
        throw new Error('boom');
      }),
    );
    turns.add('a', 60_000, r.job('next', 1));
    await settled(turns);
    expect(r.failed).toEqual(['throws']);
    expect(r.ran).toEqual(['throws', 'next']);
  });
});
