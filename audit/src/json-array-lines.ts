import { MAX_LINE_BYTES } from './line-scanner.ts';

/**
 * A log exported as one JSON array (a log store's export, `jq -s`, a SIEM's download) read as
 * JSON lines: each element of the top-level array becomes one line, as it comes, so an array of
 * millions of lines is never held whole. An element that is a string (an export of the lines as
 * text) is its text. So is an Elasticsearch or OpenSearch search response (`{"hits":{"hits":[`,
 * one or several in a row, as a scroll writes them): each hit one line, whose `_source` the
 * audit reads. Anything else passes through untouched.
 */
export async function* jsonArraysAsLines(
  chunks: AsyncIterable<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  const iterator = chunks[Symbol.asyncIterator]();
  const rest = async function* (): AsyncGenerator<Buffer | string> {
    for (;;) {
      const more = await iterator.next();
      if (more.done) return;
      yield more.value;
    }
  };
  // Read up to its first two bytes that are not white space: `[` then `{`, `"` or `]` is an array
  // (a text log may begin with `[`: `[pod/web-1/app] GET /`).
  const head: Buffer[] = [];
  let significant = '';
  while (significant.length < 2) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    for (let i = 0; i < chunk.length && significant.length < 2; i++)
      if (!isSpace(chunk[i] as number)) significant += String.fromCharCode(chunk[i] as number);
    if (significant.length === 1 && significant !== '[') break;
  }
  if (significant[0] === '{') {
    yield* searchResponses(head, rest());
    return;
  }
  if (!/^\[[{"\]]$/.test(significant)) {
    yield* head;
    yield* rest();
    return;
  }
  const splitter = new ArraySplitter();
  for (const part of head) {
    const lines = splitter.push(part);
    if (lines.length > 0) yield lines;
  }
  for await (const more of rest()) {
    const lines = splitter.push(typeof more === 'string' ? Buffer.from(more) : more);
    if (lines.length > 0) yield lines;
  }
  const last = splitter.end();
  if (last.length > 0) yield last;
}

/**
 * How far into a JSON object input its hits array must begin for it to be read as a search
 * response (what comes before is held until then). A scroll's `_scroll_id` comes first and grows
 * with the shards searched: tens of kilobytes over a few hundred.
 */
export const SEARCH_RESPONSE_HEAD_BYTES = 4 * 1024 * 1024;

/**
 * Input that begins with `{`: the hits of search responses when the first object has a
 * `hits.hits` array that begins within SEARCH_RESPONSE_HEAD_BYTES, else (JSON lines, another
 * program's JSON) the input untouched. The first object that ends without one decides it: JSON
 * lines are passed on after their first line.
 */
async function* searchResponses(
  head: Buffer[],
  rest: AsyncGenerator<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  const responses = new SearchResponseSplitter();
  const held: Buffer[] = [...head];
  let out: Buffer[] = [];
  for (const chunk of head) out.push(responses.push(chunk));
  while (!responses.found && !responses.gaveUp) {
    const next = await rest.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    held.push(chunk);
    out.push(responses.push(chunk));
  }
  if (!responses.found) {
    yield* held;
    yield* rest;
    return;
  }
  for (const lines of out) if (lines.length > 0) yield lines;
  out = [];
  for await (const more of rest) {
    const lines = responses.push(typeof more === 'string' ? Buffer.from(more) : more);
    if (lines.length > 0) yield lines;
  }
  const last = responses.end();
  if (last.length > 0) yield last;
}

const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = Buffer.from('\n');

const isSpace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * Cuts the text of a JSON array into its top-level elements, one line each, across chunks:
 * depth and string state carry from one chunk to the next. An element longer than any line
 * is kept to MAX_LINE_BYTES + 1 bytes (the line reader then skips it as too long).
 */
class ArraySplitter {
  /** 0 before the opening `[`, 1 between elements, more inside one; -1 after the closing `]`. */
  #depth = 0;
  /** Where in the last chunk pushed the array's closing `]` was (-1: not in it). */
  closedAt = -1;
  #inString = false;
  #escaped = false;
  /** An element has begun and not ended (it may go on in the next chunk). */
  #inElement = false;
  /** The pieces of the element being read, and their length. */
  #element: Buffer[] = [];
  #length = 0;

  /** The lines of the elements this chunk ends, joined (empty when it ends none). */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    this.closedAt = -1;
    // Where the current element's part of this chunk begins (-1: none yet).
    let from = this.#inElement ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (this.#depth <= 0) {
        if (this.#depth === 0 && byte === OPEN_ARRAY) this.#depth = 1;
        continue;
      }
      if (this.#inString) {
        // Most of a line's bytes are in strings: jump to the quote that ends this one.
        i = this.#stringEnd(chunk, i);
        continue;
      }
      if (this.#depth === 1) {
        if (byte === COMMA || byte === CLOSE_ARRAY) {
          if (from !== -1) this.#keep(chunk.subarray(from, i));
          from = -1;
          this.#finish(out);
          if (byte === CLOSE_ARRAY) {
            this.#depth = -1;
            this.closedAt = i;
          }
          continue;
        }
        if (isSpace(byte)) {
          if (from !== -1) {
            this.#keep(chunk.subarray(from, i));
            from = -1;
          }
          continue;
        }
        if (from === -1) from = i;
        this.#inElement = true;
      }
      if (byte === QUOTE) this.#inString = true;
      else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) this.#depth++;
      else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) this.#depth--;
      // A pretty-printed element spans lines: its line breaks are white space between tokens
      // (JSON strings hold none), so they become spaces, here in the chunk, and the element one
      // line, with no pass of its own.
      else if (byte === 0x0a || byte === 0x0d) chunk[i] = 0x20;
    }
    if (from !== -1) this.#keep(chunk.subarray(from));
    return Buffer.concat(out);
  }

  /**
   * Where the string being read ends in `chunk` from `at` on (its closing quote), or the chunk's
   * last byte when it goes on in the next chunk (whether that chunk begins escaped is kept).
   */
  #stringEnd(chunk: Buffer, at: number): number {
    let from = at;
    if (this.#escaped) {
      this.#escaped = false;
      from++;
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, from);
      const end = quote === -1 ? chunk.length : quote;
      let backslashes = 0;
      while (end - backslashes - 1 >= from && chunk[end - backslashes - 1] === BACKSLASH) backslashes++;
      if (quote === -1) {
        this.#escaped = backslashes % 2 === 1;
        return chunk.length - 1;
      }
      if (backslashes % 2 === 0) {
        this.#inString = false;
        return quote;
      }
      from = quote + 1;
    }
  }

  /** What is left at the end of the input: an element the array never closed. */
  end(): Buffer {
    const out: Buffer[] = [];
    this.#finish(out);
    return Buffer.concat(out);
  }

  #keep(part: Buffer): void {
    if (part.length === 0 || this.#length > MAX_LINE_BYTES) return;
    const room = MAX_LINE_BYTES + 1 - this.#length;
    const kept = part.length > room ? part.subarray(0, room) : part;
    // A view of the chunk: the lines of a chunk are joined into a copy of their own (push), and
    // an element over several chunks into one first (#finish).
    this.#element.push(kept);
    this.#length += kept.length;
  }

  #finish(out: Buffer[]): void {
    this.#inElement = false;
    if (this.#length === 0) return;
    // Within one chunk, the view itself: push's join copies it once with the other lines.
    let line = this.#element.length === 1 ? (this.#element[0] as Buffer) : Buffer.concat(this.#element);
    this.#element = [];
    this.#length = 0;
    if (line[0] === QUOTE && line.length <= MAX_LINE_BYTES) {
      try {
        const text = JSON.parse(line.toString('utf8')) as unknown;
        if (typeof text === 'string') line = Buffer.from(text.replaceAll('\n', ' '));
      } catch {}
    }
    out.push(line, NEWLINE);
  }
}

const HITS = Buffer.from('hits');

/**
 * Cuts search responses (`{"took":…,"hits":{"total":…,"hits":[hit, hit, …]}}`, one or several
 * in a row) into their hits, one line each, across chunks: a small JSON reader follows the
 * objects and the key each value belongs to at the first two levels, and hands the `hits` array
 * inside the top-level `hits` object to an ArraySplitter until it closes.
 */
class SearchResponseSplitter {
  /** A `hits.hits` array has begun (in any response read). */
  found = false;
  /** The first object ended, or SEARCH_RESPONSE_HEAD_BYTES passed, without one: the input is not read as search responses. */
  gaveUp = false;
  #looked = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** The bytes of the string being read, while it may still be `hits` (null: it is not). */
  #string: number[] | null = null;
  /** The last string read was `hits`, and the key of the value that comes next when a `:` follows. */
  #lastWasHits = false;
  #keyIsHits = false;
  /** Whether the value at depth 1 being read is the `hits` object. */
  #inHits = false;
  #array: ArraySplitter | null = null;

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#array !== null) {
        const part = i === 0 ? chunk : chunk.subarray(i);
        const lines = this.#array.push(part);
        if (lines.length > 0) out.push(lines);
        if (this.#array.closedAt === -1) return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
        i += this.#array.closedAt + 1;
        this.#array = null;
        continue;
      }
      if (!this.found && ++this.#looked > SEARCH_RESPONSE_HEAD_BYTES) {
        this.gaveUp = true;
        break;
      }
      const byte = chunk[i] as number;
      i++;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === BACKSLASH) {
          this.#escaped = true;
          this.#string = null;
        } else if (byte === QUOTE) {
          this.#inString = false;
          const s = this.#string;
          this.#lastWasHits = s !== null && s.length === 4 && HITS.equals(Buffer.from(s));
          this.#string = null;
        } else if (this.#string !== null) {
          if (this.#string.length < 4) this.#string.push(byte);
          else this.#string = null;
        }
        continue;
      }
      if (byte === QUOTE) {
        this.#inString = true;
        this.#string = [];
        continue;
      }
      if (byte === 0x3a /* : */) {
        this.#keyIsHits = this.#lastWasHits;
        this.#lastWasHits = false;
        continue;
      }
      if (isSpace(byte)) continue;
      this.#lastWasHits = false;
      if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
        // The top-level `hits` object, and the `hits` array in it.
        if (this.#depth === 1 && byte === OPEN_OBJECT) this.#inHits = this.#keyIsHits;
        if (this.#depth === 2 && this.#inHits && byte === OPEN_ARRAY && this.#keyIsHits) {
          this.found = true;
          this.#array = new ArraySplitter();
          this.#keyIsHits = false;
          i--; // the splitter begins at the `[`
          continue;
        }
        this.#depth++;
      } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        this.#depth = Math.max(0, this.#depth - 1);
        if (this.#depth <= 1) this.#inHits = false; // the top-level hits object (or the response) closed
        // The first object ended without a hits array: not a search response (JSON lines).
        if (this.#depth === 0 && !this.found) {
          this.gaveUp = true;
          break;
        }
      }
      this.#keyIsHits = false;
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  /** What is left at the end of the input: the hit an array cut short held. */
  end(): Buffer {
    return this.#array?.end() ?? Buffer.alloc(0);
  }
}
