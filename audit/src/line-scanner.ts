/**
 * Reads log lines from byte chunks. With needles, only lines containing one of them are decoded:
 * the search runs on the raw bytes (Buffer.indexOf, memchr-fast), so a filter over a large file
 * costs little more than reading it. Lines may be split across chunks; both ends are handled.
 */

const NEWLINE = 0x0a;
/** A line longer than this is not a Gatehouse line (they are capped well below); it is skipped. */
export const MAX_LINE_BYTES = 1024 * 1024;

export interface ScanStats {
  bytes: number;
  lines: number;
  /** Lines decoded and handed on (all of them without needles). */
  candidates: number;
}

/** Counts newlines in a buffer (for the lines-read statistic). */
function countLines(buffer: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buffer.indexOf(NEWLINE, from); i !== -1 && i < to; i = buffer.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/**
 * What a filtered scan looks for: given a chunk (up to `tail`), a function from an offset to the
 * next match at or after it (-1 when none).
 */
export interface Needles {
  search(buffer: Buffer, tail: number): (from: number) => number;
}

/** Exact byte sequences: Buffer.indexOf, memchr-fast. */
export function exactNeedles(needles: readonly Buffer[]): Needles {
  return {
    search: (buffer, tail) => (from) => {
      let hit = -1;
      for (const needle of needles) {
        const at = buffer.indexOf(needle, from);
        if (at !== -1 && at < tail && (hit === -1 || at < hit)) hit = at;
      }
      return hit;
    },
  };
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;

/**
 * Text in any letter case (an email address as the provider spelled it): the chunk is read as
 * latin1 (one character per byte, so offsets stay byte offsets) and searched with a literal
 * case-insensitive regular expression, which V8 runs without decoding lines.
 */
export function caseInsensitiveNeedles(texts: readonly string[]): Needles {
  const source = texts
    .map((t) => Buffer.from(t, 'utf8').toString('latin1').replace(REGEX_SPECIAL, '\\$&'))
    .join('|');
  return {
    search(buffer, tail) {
      const text = buffer.toString('latin1', 0, tail);
      const pattern = new RegExp(source, 'gi');
      return (from) => {
        pattern.lastIndex = from;
        return pattern.exec(text)?.index ?? -1;
      };
    },
  };
}

/** A line scanner fed chunk by chunk: push() calls onLine for the lines completed so far. */
export interface LineScanner {
  push(raw: Buffer | string): void;
  /** The last line, when the stream did not end with a newline. */
  end(): void;
  readonly stats: ScanStats;
}

/**
 * Calls onLine for every line pushed (or, with needles, every line containing one), in order.
 * Lines may be split across chunks; both ends are handled.
 */
export function createLineScanner(
  onLine: (line: string) => void,
  needles: readonly Buffer[] | Needles = [],
): LineScanner {
  const filter: Needles | null = Array.isArray(needles)
    ? needles.length === 0
      ? null
      : exactNeedles(needles)
    : (needles as Needles);
  const stats: ScanStats = { bytes: 0, lines: 0, candidates: 0 };
  let carry: Buffer = Buffer.alloc(0);
  const emit = (buffer: Buffer, start: number, end: number): void => {
    if (end - start > MAX_LINE_BYTES) return;
    stats.candidates++;
    onLine(buffer.toString('utf8', start, end));
  };

  const scan = (buffer: Buffer, last: boolean): number => {
    // Returns the offset where the incomplete last line starts (kept for the next chunk).
    const tail = last ? buffer.length : buffer.lastIndexOf(NEWLINE) + 1;
    stats.lines += countLines(buffer, 0, tail) + (last && tail > 0 && buffer[tail - 1] !== NEWLINE ? 1 : 0);
    if (filter === null) {
      let start = 0;
      while (start < tail) {
        let end = buffer.indexOf(NEWLINE, start);
        if (end === -1 || end >= tail) end = tail;
        if (end > start) emit(buffer, start, end);
        start = end + 1;
      }
      return tail;
    }
    // With needles: jump from match to match, emitting each matching line once.
    const next = filter.search(buffer, tail);
    let from = 0;
    while (from < tail) {
      const hit = next(from);
      if (hit === -1 || hit >= tail) break;
      const start = buffer.lastIndexOf(NEWLINE, hit) + 1;
      let end = buffer.indexOf(NEWLINE, hit);
      if (end === -1 || end > tail) end = tail;
      emit(buffer, start, end);
      from = end + 1;
    }
    return tail;
  };

  return {
    stats,
    push(raw) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      stats.bytes += chunk.length;
      const buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const consumed = scan(buffer, false);
      carry = buffer.subarray(consumed);
      if (carry.length > MAX_LINE_BYTES) carry = Buffer.alloc(0); // an endless line: drop it
    },
    end() {
      if (carry.length > 0) scan(carry, true);
      carry = Buffer.alloc(0);
    },
  };
}

/**
 * Calls onLine for every line of the stream (or, with needles, every line containing one),
 * in order. Resolves with what was read.
 */
export async function scanLines(
  chunks: AsyncIterable<Buffer | string>,
  onLine: (line: string) => void,
  needles: readonly Buffer[] | Needles = [],
): Promise<ScanStats> {
  const scanner = createLineScanner(onLine, needles);
  for await (const raw of chunks) scanner.push(raw);
  scanner.end();
  return scanner.stats;
}
