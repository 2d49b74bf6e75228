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

/** The day of the last time read and its start (epoch ms, NaN when Date.parse refuses it). */
const dayCache = { text: '', start: Number.NaN };

/** The value of the two decimal digits at `at`, or a negative number when they are not digits. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

/**
 * Date.parse, with a fast path for the form isoTime writes (`2026-11-20T10:00:00.123Z`): the day
 * is parsed once per day by Date.parse itself (so a day it refuses, or rolls over as it does
 * 02-31, comes out the same), the time of day by digits. Anything else goes to Date.parse.
 */
export function parseIsoTime(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  )
    return Date.parse(text);
  const hours = twoDigits(text, 11);
  const minutes = twoDigits(text, 14);
  const seconds = twoDigits(text, 17);
  // Milliseconds: their first two digits, then the last.
  const millisHead = twoDigits(text, 20);
  const millisLast = text.charCodeAt(22) - 48;
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59)
    return Date.parse(text);
  if (millisHead < 0 || millisLast < 0 || millisLast > 9) return Date.parse(text);
  // The day as digits too, or Date.parse reads it with its other, looser parser.
  if (
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    twoDigits(text, 0) < 0 ||
    twoDigits(text, 2) < 0 ||
    twoDigits(text, 5) < 0 ||
    twoDigits(text, 8) < 0
  )
    return Date.parse(text);
  const day = text.slice(0, 10);
  if (day !== dayCache.text) {
    dayCache.text = day;
    dayCache.start = Date.parse(`${day}T00:00:00.000Z`);
  }
  return (
    dayCache.start + hours * 3_600_000 + minutes * 60_000 + seconds * 1000 + millisHead * 10 + millisLast
  );
}
