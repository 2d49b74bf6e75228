import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryReducingCollection, startIdleCollection } from '../../lib/idle-collection.ts';

const MIB = 1024 * 1024;

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

  it('collects once a quiet time after the start, when nothing else happens', () => {
    const s = quietAfter(10_000);
    vi.advanceTimersByTime(9_999);
    expect(s.collections).toBe(0);
    vi.advanceTimersByTime(1);
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(10 * 60_000);
    expect(s.collections).toBe(1); // nothing happened since: no second collection
    s.idle.stop();
  });

  it('waits while requests keep starting, then collects one quiet time after the last', () => {
    const s = quietAfter(10_000);
    vi.advanceTimersByTime(10_000); // the start's collection
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(60_000); // past the least gap
    for (let t = 0; t < 120; t++) {
      s.work(50);
      vi.advanceTimersByTime(1_000);
    }
    // The last request started 1 s ago, just before a check.
    expect(s.collections).toBe(1); // under load: never
    vi.advanceTimersByTime(8_999);
    expect(s.collections).toBe(1); // 9.999 s without a request: not yet
    vi.advanceTimersByTime(1);
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(5_000); // 15 s: at most one and a half quiet times after the last request
    expect(s.collections).toBe(2);
    s.idle.stop();
  });

  it('a lull shorter than the quiet time does not collect, wherever it falls between two checks', () => {
    for (const offset of [1, 2_500, 4_999]) {
      const s = quietAfter(10_000);
      vi.advanceTimersByTime(10_000); // the start's collection
      vi.advanceTimersByTime(60_000); // past the least gap
      vi.advanceTimersByTime(offset);
      for (let round = 0; round < 10; round++) {
        s.work();
        vi.advanceTimersByTime(9_900); // a request every 9.9 s
      }
      expect(s.collections).toBe(1); // before: one after each lull longer than 5 s
      s.idle.stop();
    }
  });

  it('keeps the least gap between two collections, then still collects what is pending', () => {
    const s = quietAfter(10_000, 60_000);
    vi.advanceTimersByTime(10_000);
    expect(s.collections).toBe(1);
    s.work();
    vi.advanceTimersByTime(20_000); // quiet again 20 s after the first collection: too soon
    expect(s.collections).toBe(1);
    vi.advanceTimersByTime(35_000); // the check 55 s after the first collection was too soon
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
    vi.advanceTimersByTime(5_000); // long quiet already: the next check
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

  it('with a heap size: skips a quiet time after work that grew the heap too little, collects once it grew enough', () => {
    let started = 0;
    let heap = 13 * MIB;
    let collections = 0;
    const idle = startIdleCollection({
      started: () => started,
      quietMs: 10_000,
      minGapMs: 60_000,
      collect: () => {
        collections++;
        heap = 13 * MIB; // what a memory-reducing collection leaves
      },
      heapBytes: () => heap,
      minGrowthBytes: 2 * MIB,
    });
    vi.advanceTimersByTime(10_000);
    expect(collections).toBe(1); // the start's: no size to compare with yet, it always runs
    vi.advanceTimersByTime(60_000);
    for (let i = 0; i < 5; i++) {
      started++; // a few requests, a quiet time between each
      heap += 0.1 * MIB;
      vi.advanceTimersByTime(20_000);
    }
    expect(collections).toBe(1); // 0.5 MiB grown: nothing worth the collection's cost
    started += 5_000;
    heap += 5 * MIB; // a load grew the young generation
    vi.advanceTimersByTime(15_000);
    expect(collections).toBe(2);
    started++;
    heap += 1.9 * MIB; // just under the least growth
    vi.advanceTimersByTime(120_000);
    expect(collections).toBe(2);
    started++;
    heap += 0.1 * MIB; // reached: the next quiet time after more work collects
    vi.advanceTimersByTime(15_000);
    expect(collections).toBe(3);
    idle.stop();
  });

  it('without a heap size, every quiet time after work collects (the gap allowing)', () => {
    const s = quietAfter(10_000, 60_000);
    vi.advanceTimersByTime(10_000);
    for (let i = 0; i < 3; i++) {
      s.work();
      vi.advanceTimersByTime(65_000);
    }
    expect(s.collections).toBe(4);
    s.idle.stop();
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
    vi.advanceTimersByTime(2_000);
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
