import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryReducingCollection, startIdleCollection } from '../../lib/idle-collection.ts';

describe('idle collection', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A sidecar stand-in: `work(n)` starts n requests; `collections` counts the collections. */
  function quietAfter(quietMs: number, minGapMs = 6 * quietMs) {
    let started = 0;
    const durations: number[] = [];
    const idle = startIdleCollection({
      started: () => started,
      quietMs,
      minGapMs,
      collect: () => {},
      onCollected: (ms) => durations.push(ms),
    });
    return {
      idle,
      work(n = 1) {
        started += n;
      },
      get collections() {
        return durations.length;
      },
    };
  }

  it('collects once after the start, when nothing else happens', () => {
    const s = quietAfter(10_000);
    vi.advanceTimersByTime(4_999);
    expect(s.collections).toBe(0);
    vi.advanceTimersByTime(1);
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(10 * 60_000);
    expect(s.collections).toBe(1); // nothing happened since: no second collection
    s.idle.stop();
  });

  it('waits while requests keep starting, then collects one quiet time after the last', () => {
    const s = quietAfter(10_000);
    vi.advanceTimersByTime(5_000); // the start's collection
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(60_000); // past the least gap
    for (let t = 0; t < 120; t++) {
      s.work(50);
      vi.advanceTimersByTime(1_000);
    }
    expect(s.collections).toBe(1); // under load: never
    vi.advanceTimersByTime(4_999);
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(5_001); // between one and one and a half quiet times after the last request
    expect(s.collections).toBe(2);
    s.idle.stop();
  });

  it('keeps the least gap between two collections, then still collects what is pending', () => {
    const s = quietAfter(10_000, 60_000);
    vi.advanceTimersByTime(5_000);
    expect(s.collections).toBe(1);
    s.work();
    vi.advanceTimersByTime(15_000); // quiet again 15 s after the first collection: too soon
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(40_000); // 60 s in: the check at 55 s after the first collection was too soon
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(s.collections).toBe(2); // at the first check 60 s or more after the first
    vi.advanceTimersByTime(5 * 60_000);
    expect(s.collections).toBe(2);
    s.idle.stop();
  });

  it('collects after dirty() without any request (a new config)', () => {
    const s = quietAfter(10_000);
    vi.advanceTimersByTime(70_000);
    expect(s.collections).toBe(1);
    s.idle.dirty();
    vi.advanceTimersByTime(5_000);
    expect(s.collections).toBe(2);
    s.idle.stop();
  });

  it('never runs with a quiet time of 0, and stops with stop()', () => {
    const off = quietAfter(0);
    vi.advanceTimersByTime(10 * 60_000);
    expect(off.collections).toBe(0);
    const s = quietAfter(10_000);
    s.idle.stop();
    vi.advanceTimersByTime(10 * 60_000);
    expect(s.collections).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports how long a collection took', () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }); // performance.now() is real here
    const took: number[] = [];
    const idle = startIdleCollection({
      started: () => 0,
      quietMs: 2_000,
      minGapMs: 0,
      collect: () => {
        const until = performance.now() + 20;
        while (performance.now() < until); // a collection of 20 ms
      },
      onCollected: (ms) => took.push(ms),
    });
    vi.advanceTimersByTime(1_000);
    expect(took).toHaveLength(1);
    expect(took[0]).toBeGreaterThanOrEqual(20);
    expect(took[0]).toBeLessThan(1_000);
    idle.stop();
  });
});

describe('memoryReducingCollection', () => {
  it("uses the process's own gc with the last-resort flavor when it has one", () => {
    const holder = globalThis as { gc?: unknown };
    const saved = holder.gc;
    try {
      const calls: unknown[] = [];
      holder.gc = (options: unknown) => calls.push(options);
      memoryReducingCollection()();
      expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    } finally {
      holder.gc = saved;
    }
  });

  it('without one, runs through V8 and leaves --expose-gc unset afterwards', () => {
    const holder = globalThis as { gc?: unknown };
    const saved = holder.gc;
    try {
      holder.gc = undefined;
      const collect = memoryReducingCollection();
      collect();
      collect();
      expect(holder.gc).toBeUndefined();
      // A context made now gets no gc: the flag was set only while the collection's was made.
      expect(runInNewContext('typeof gc')).toBe('undefined');
    } finally {
      holder.gc = saved;
    }
  });
});
