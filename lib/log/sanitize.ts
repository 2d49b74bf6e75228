/** Longest value of any logged string field before it is cut (URIs, user agents, header values). */
export const DEFAULT_MAX_FIELD_LENGTH = 4096;
export const TRUNCATION_MARK = '...[truncated]';

// JSON.stringify escapes U+0000-U+001F; these are the other characters that confuse terminals and log viewers.
const EXTRA_CONTROLS = /[\u007f-\u009f\u2028\u2029]/g;

/** Cuts a string to `max` characters, marking the cut so nobody mistakes it for the full value. */
export function capField(value: string, max: number = DEFAULT_MAX_FIELD_LENGTH): string {
  return value.length <= max ? value : value.slice(0, max) + TRUNCATION_MARK;
}

/** Serialises one log record as a single line with every control character escaped. */
export function toJsonLine(record: object): string {
  const json = JSON.stringify(record);
  EXTRA_CONTROLS.lastIndex = 0;
  return EXTRA_CONTROLS.test(json)
    ? json.replace(EXTRA_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json;
}

/**
 * Replaces the values of sensitive query parameters with [REDACTED]; names are compared
 * case-insensitively after percent-decoding, so `?Access%5Ftoken=` is caught too.
 */
export function redactQuery(query: string, redacted: ReadonlySet<string>): string {
  if (query === '' || redacted.size === 0) return query;
  let changed = false;
  const parts = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' '));
    } catch {
      // keep the raw name; malformed names are still compared as written
    }
    if (eq !== -1 && redacted.has(name.toLowerCase())) {
      changed = true;
      return `${rawName}=[REDACTED]`;
    }
    return pair;
  });
  return changed ? parts.join('&') : query;
}
