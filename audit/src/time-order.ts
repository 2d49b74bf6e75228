import { parseIsoTime } from '../../lib/iso-time.ts';
import { matchFinder } from './line-scanner.ts';
import { TRUNCATED_CODES } from './log-sources.ts';

/**
 * Whether a stream of log lines is in the order its lines were written: each sidecar writes in
 * time order, but a file of several sidecars concatenated, or an export sorted by another field,
 * is not. A byte scan (no JSON parsing) reads each line's time where the sidecar puts it: `time`
 * (native request lines and every event), `EdgeEndTimestamp` (Cloudflare profile), also inside a
 * JSON string (a Splunk `_raw`); and in Cloud Logging entries, whose line's `time` may be kept on
 * the entry only, the entry's `timestamp`. The first of them in a line counts.
 */

const NEEDLES = ['"time":"', '"EdgeEndTimestamp":"', '\\"time\\":\\"', '\\"EdgeEndTimestamp\\":\\"'].map(
  (n) => Buffer.from(n),
);
/** Cloud Logging entries: looked for only in a stream that has them (a pass over each chunk less). */
const CLOUD_LOGGING_ENTRY = Buffer.from('"jsonPayload":{');
const ENTRY_NEEDLES = [...NEEDLES, Buffer.from('"timestamp":"')];
const NEWLINE = 0x0a;
/** `2026-11-20T10:00:00.000Z`: the sidecar's times (Date#toISOString). */
const TIME_LENGTH = 24;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * True when no line's time is more than toleranceMs before a time read earlier in the stream.
 * Reads the stream to its end, or to the first step back. Lines without a time are ignored.
 */
export async function inTimeOrder(
  chunks: AsyncIterable<Buffer | string>,
  toleranceMs: number,
): Promise<boolean> {
  let latest = '';
  let latestMs = Number.NEGATIVE_INFINITY;
  let carry: Buffer = Buffer.alloc(0);
  let needles: Buffer[] | undefined;
  const scan = (buffer: Buffer, tail: number): boolean => {
    if (needles === undefined) {
      if (tail === 0) return true; // decided on a whole line
      needles = buffer.includes(CLOUD_LOGGING_ENTRY) ? ENTRY_NEEDLES : NEEDLES;
    }
    // One indexOf per needle and match: linear in the chunk.
    const find = matchFinder(buffer, tail, needles);
    let from = 0;
    while (from < tail) {
      const at = find.next(from);
      if (at === -1) break;
      const start = at + (needles[find.needle] as Buffer).length;
      const time = buffer.toString('latin1', start, start + TIME_LENGTH);
      if (time > latest) {
        if (ISO_TIME.test(time)) {
          latest = time;
          latestMs = parseIsoTime(time);
        }
      } else if (time < latest && ISO_TIME.test(time) && parseIsoTime(time) < latestMs - toleranceMs)
        return false;
      // One time per line: go on from the next line.
      const end = buffer.indexOf(NEWLINE, start);
      if (end === -1 || end >= tail) break;
      from = end + 1;
    }
    return true;
  };
  try {
    for await (const raw of chunks) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      const buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const tail = buffer.lastIndexOf(NEWLINE) + 1;
      if (!scan(buffer, tail)) return false;
      carry = buffer.subarray(tail);
      if (carry.length > 1024 * 1024) carry = Buffer.alloc(0); // an endless line: not a Gatehouse line
    }
  } catch (error) {
    // A file that ends early (a gzip cut short): the order of the lines before the cut still counts.
    if (!TRUNCATED_CODES.has((error as { code?: string }).code ?? '')) throw error;
  }
  return scan(carry, carry.length);
}
