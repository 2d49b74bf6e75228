/**
 * Reads log lines from byte chunks. With needles, only lines containing one of them are decoded:
 * the search runs on the raw bytes (Buffer.indexOf, memchr-fast), so a filter over a large file
 * costs little more than reading it. Lines may be split across chunks; both ends are handled.
 * A line a container runtime wrote in parts (cri-framing.ts) is joined again.
 */

import { createCriJoiner, criRecord, partialRecordFinder } from './cri-framing.ts';

const NEWLINE = 0x0a;
/**
 * A line longer than this is not a Gatehouse line (their strings are capped: a URI at 4,096
 * characters, a header at 1,024, so a line stays within tens of KiB); it is skipped and counted.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

export interface ScanStats {
  bytes: number;
  lines: number;
  /** Lines decoded and handed on (all of them without needles; a line a runtime split, once). */
  candidates: number;
  /** Lines longer than MAX_LINE_BYTES, skipped. */
  tooLong: number;
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

/** The next match of any of several byte sequences in a chunk, for a scan that moves forward. */
export interface MatchFinder {
  /** The offset of the first match at or after from (below the chunk's tail), or -1. */
  next(from: number): number;
  /** Which needle the last match was (its index). */
  readonly needle: number;
}

/**
 * Each needle's next place is kept until the scan passes it, so a chunk is searched once per
 * needle however many matches the scan stops at (searching again from every match made a rare
 * needle cost a pass over the rest of the chunk per match: 11.5 s instead of 2.1 s for one
 * subject's sessions in a million lines).
 */
export function matchFinder(buffer: Buffer, tail: number, needles: readonly Buffer[]): MatchFinder {
  const places = needles.map(() => -2); // -2: not searched yet; -1: none left in the chunk
  let needle = -1;
  return {
    get needle() {
      return needle;
    },
    next(from) {
      let hit = -1;
      for (let i = 0; i < needles.length; i++) {
        let at = places[i] as number;
        if (at !== -1 && at < from) {
          at = buffer.indexOf(needles[i] as Buffer, from);
          if (at >= tail) at = -1;
          places[i] = at;
        }
        if (at !== -1 && (hit === -1 || at < hit)) {
          hit = at;
          needle = i;
        }
      }
      return hit;
    },
  };
}

/** Exact byte sequences: Buffer.indexOf, memchr-fast. */
export function exactNeedles(needles: readonly Buffer[]): Needles {
  return {
    search: (buffer, tail) => {
      const finder = matchFinder(buffer, tail, needles);
      return (from) => finder.next(from);
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
      // The last match is kept until the scan passes it (as matchFinder does), and so is its absence.
      let hit = -2;
      let searchedFrom = 0;
      return (from) => {
        if (hit >= from || (hit === -1 && from >= searchedFrom)) return hit;
        pattern.lastIndex = from;
        hit = pattern.exec(text)?.index ?? -1;
        searchedFrom = from;
        return hit;
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
  const stats: ScanStats = { bytes: 0, lines: 0, candidates: 0, tooLong: 0 };
  const joiner = createCriJoiner(
    (line, joined) => {
      // A joined line went through whole, needle or not (in another part, or cut in two): searched now.
      if (joined && filter !== null && !holdsNeedle(filter, line)) return;
      stats.candidates++;
      onLine(line);
    },
    MAX_LINE_BYTES,
    () => stats.tooLong++,
  );
  /** The start of a line not ended yet, as it came (chunks are joined once, when its end comes). */
  let carry: Buffer[] = [];
  let carryBytes = 0;
  /** A line of a container runtime's log was seen: its records may be parts of lines. */
  let framed = false;
  /** The rest of a line longer than MAX_LINE_BYTES is being dropped, up to its newline. */
  let dropping = false;
  const emit = (buffer: Buffer, start: number, end: number): void => {
    if (end - start > MAX_LINE_BYTES) stats.tooLong++;
    else joiner.line(buffer.toString('utf8', start, end));
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
    // With needles: jump from match to match, emitting each matching line once. A runtime's
    // record of part of a line is a match too, and while a line is open every line goes on
    // until its end: the parts are joined before the line is searched (a needle may be in
    // another part, or cut in two).
    // Parts are looked for only in a runtime's log (a line of it seen, or this chunk's first line).
    const next = filter.search(buffer, tail);
    framed ||= joiner.framed || criRecord(buffer.toString('latin1', 0, Math.min(tail, 64))) !== undefined;
    const part = framed ? partialRecordFinder(buffer, tail) : null;
    let from = 0;
    while (from < tail) {
      let start = from;
      if (!joiner.open) {
        const hit = part ? earliest(next(from), part(from)) : next(from);
        if (hit === -1 || hit >= tail) break;
        start = buffer.lastIndexOf(NEWLINE, hit) + 1;
      }
      let end = buffer.indexOf(NEWLINE, start);
      if (end === -1 || end > tail) end = tail;
      if (end > start) emit(buffer, start, end);
      from = end + 1;
    }
    return tail;
  };

  return {
    stats,
    push(raw) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      stats.bytes += chunk.length;
      if (dropping) {
        const end = chunk.indexOf(NEWLINE);
        if (end === -1) return;
        dropping = false;
        stats.lines++;
        chunk = chunk.subarray(end + 1);
      }
      if (chunk.indexOf(NEWLINE) === -1) {
        // No line ends here: the chunk waits with the rest of its line (joined once, when it ends).
        carry.push(chunk);
        carryBytes += chunk.length;
        if (carryBytes > MAX_LINE_BYTES) {
          // Longer than any line a sidecar writes: dropped, and counted once.
          carry = [];
          carryBytes = 0;
          dropping = true;
          stats.tooLong++;
        }
        return;
      }
      const buffer = carry.length > 0 ? Buffer.concat([...carry, chunk]) : chunk;
      const rest = buffer.subarray(scan(buffer, false));
      carry = rest.length > 0 ? [rest] : [];
      carryBytes = rest.length;
    },
    end() {
      if (dropping) stats.lines++;
      else if (carryBytes > 0) scan(Buffer.concat(carry), true);
      dropping = false;
      carry = [];
      carryBytes = 0;
      joiner.end();
    },
  };
}

/** Whether a line holds one of the needles. */
function holdsNeedle(filter: Needles, line: string): boolean {
  const bytes = Buffer.from(line);
  return filter.search(bytes, bytes.length)(0) !== -1;
}

/** The first of two offsets that may be -1 (none). */
function earliest(a: number, b: number): number {
  return a === -1 ? b : b === -1 ? a : Math.min(a, b);
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
