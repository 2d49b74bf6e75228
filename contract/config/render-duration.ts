import { parseDurationMs } from '../../lib/duration.ts';
import type { FieldError } from '../errors.ts';

/** Bounds of a duration field, and how they read in an error message. */
export interface DurationRange {
  readonly minMs: number;
  readonly maxMs: number;
  /** e.g. `0s and 24h` */
  readonly label: string;
}

export const TIMEOUT_RANGE: DurationRange = { minMs: 0, maxMs: 86_400_000, label: '0s and 24h' };

/**
 * A duration field in milliseconds: the fallback when absent; out of range or unparsable is
 * reported at its path (and the fallback returned, so rendering can report every other error).
 */
export function renderDuration(
  text: string | undefined,
  fallback: number,
  field: string,
  at: (f: string) => string,
  errors: FieldError[],
  range: DurationRange = TIMEOUT_RANGE,
): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < range.minMs || ms > range.maxMs) {
    errors.push({
      path: at(field),
      message: `is not a duration between ${range.label} (got ${JSON.stringify(text)})`,
    });
    return fallback;
  }
  return ms;
}
