import { describe, expect, it } from 'vitest';
import { createScrapeRate, DEFAULT_SCRAPE_RATE_LIMITS } from '../../lib/scrape-rate.ts';

describe('the rate of /metrics renders', () => {
  const cases: [string, [string, number][], boolean[]][] = [
    [
      'under both limits',
      [
        ['a', 0],
        ['a', 10],
        ['b', 20],
      ],
      [true, true, true],
    ],
    [
      'one address past its share in a second',
      [
        ['a', 0],
        ['a', 1],
        ['a', 2],
        ['b', 3],
      ],
      [true, true, false, true],
    ],
    [
      'its share again in the next second',
      [
        ['a', 0],
        ['a', 1],
        ['a', 2],
        ['a', 1_000],
        ['a', 1_001],
      ],
      [true, true, false, true, true],
    ],
    [
      'all addresses together past the total',
      [
        ['a', 0],
        ['b', 1],
        ['c', 2],
        ['d', 3],
        ['a', 999],
      ],
      [true, true, true, false, false],
    ],
    [
      'a refused scrape does not count',
      [
        ['a', 0],
        ['a', 1],
        ['a', 2],
        ['a', 3],
        ['b', 4],
      ],
      [true, true, false, false, true],
    ],
  ];
  for (const [what, scrapes, expected] of cases)
    it(what, () => {
      const rate = createScrapeRate({ perPeerPerSecond: 2, totalPerSecond: 3 });
      expect(scrapes.map(([peer, at]) => rate.allow(peer, at))).toEqual(expected);
    });

  it('as shipped: 5 a second from one address, 20 from all (docs/metrics.md)', () => {
    const rate = createScrapeRate(DEFAULT_SCRAPE_RATE_LIMITS);
    expect(Array.from({ length: 6 }, (_, i) => rate.allow('one', i))).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    const others = Array.from({ length: 20 }, (_, i) => rate.allow(`peer-${i}`, 10 + i));
    expect(others.filter(Boolean)).toHaveLength(15);
  });
});
