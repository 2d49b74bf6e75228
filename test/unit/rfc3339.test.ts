import { describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../lib/rfc3339.ts';

describe('parseRfc3339', () => {
  it.each<[string, number | undefined]>([
    ['2026-11-21T07:00:00Z', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21t07:00:00z', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21 07:00:00Z', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21T09:00:00+02:00', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21T02:00:00-05:00', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21T07:00Z', Date.UTC(2026, 10, 21, 7)],
    ['2026-11-21T07:00:00.123456789Z', Date.UTC(2026, 10, 21, 7, 0, 0, 123)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    // Read in the machine's time zone by Date.parse: refused.
    ['2026-11-21T07:00:00', undefined],
    ['2026-11-21', undefined],
    // Days and hours that do not exist.
    ['2026-02-29T00:00:00Z', undefined],
    ['2026-04-31T00:00:00Z', undefined],
    ['2026-13-01T00:00:00Z', undefined],
    ['2026-11-21T24:00:00Z', undefined],
    ['2026-11-21T23:60:00Z', undefined],
    ['yesterday', undefined],
    ['', undefined],
  ])('%j', (text, at) => {
    expect(parseRfc3339(text)).toBe(at);
  });
});
