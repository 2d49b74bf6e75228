/** `.000Z` to `.999Z`: the end of an ISO 8601 time, by millisecond. */
const MILLIS = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}Z`);
/** Year 10000: from there toISOString writes an expanded year. */
const LAST_PLAIN_YEAR_MS = 253402300800000;
const secondCache = { second: -1, prefix: '' };

/**
 * ISO 8601 text of a millisecond time, as Date#toISOString writes it. The text up to the
 * seconds is made once per second; times within the same second (a request line's start and end,
 * the requests of a log read in order) are then a concatenation each.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= LAST_PLAIN_YEAR_MS) return new Date(ms).toISOString();
  const millis = ms % 1000;
  const second = ms - millis;
  if (second !== secondCache.second) {
    secondCache.second = second;
    secondCache.prefix = new Date(second).toISOString().slice(0, 19);
  }
  return secondCache.prefix + (MILLIS[millis] as string);
}
