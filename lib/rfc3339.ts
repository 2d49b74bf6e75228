/**
 * An RFC 3339 time given on a command line (`2026-11-21T07:00:00Z`, `2026-11-21T09:00:00+02:00`,
 * fractions of a second allowed), as epoch milliseconds; undefined when it is not one. The offset
 * is required: Date.parse reads `2026-11-21T07:00:00` in the machine's time zone, so the same
 * command meant another instant on an analyst's laptop in Tokyo than on a server in UTC (a
 * revocation's cut-off nine hours early, sessions signed in since left alive).
 */
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)$/;

export function parseRfc3339(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (!match || Number(match[4]) > 23) return undefined;
  const [, year, month, day, hour, minute] = match;
  // Date.parse takes the calendar as it is (no 31 February), but only in the ISO form with seconds.
  const iso = `${year}-${month}-${day}T${hour}:${minute}:${match[6] ?? '00'}${match[7] ?? ''}${match[8]?.toUpperCase()}`;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return undefined;
  // A day that does not exist in its month (2026-02-31) is rolled over by Date: refuse it instead.
  const local = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (local.getUTCMonth() !== Number(month) - 1 || local.getUTCDate() !== Number(day)) return undefined;
  return at;
}

/** What a command says of a time it refuses: the form it takes, with its offset. */
export const RFC3339_HINT =
  'an RFC 3339 time with its offset, e.g. 2026-11-21T07:00:00Z or 2026-11-21T09:00:00+02:00 (a time without one would be read in this machine\u2019s time zone)';
