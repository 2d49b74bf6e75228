import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonArraysAsLines, SEARCH_RESPONSE_HEAD_BYTES } from '../../audit/src/json-array-lines.ts';
import { MAX_LINE_BYTES } from '../../audit/src/line-scanner.ts';

/** The text as chunks cut at the given places. */
async function* chunked(text: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)) {
    yield text.subarray(from, cut);
    from = cut;
  }
  yield text.subarray(from);
}

async function collect(chunks: AsyncIterable<Buffer | string>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of jsonArraysAsLines(chunks)) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(parts).toString('utf8');
}

const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'a,b',
    '],[',
    '{"x":1}',
    'quote " here',
    'back\\slash',
    'line\nbreak',
    '\u2028',
    'caf\u00e9 \ud83d\ude00',
  ),
);
const record = fc.record({
  type: fc.constant('request'),
  uri: tricky,
  nested: fc.array(fc.record({ k: tricky, n: fc.integer() }), { maxLength: 3 }),
  list: fc.array(fc.oneof(fc.integer(), tricky, fc.constant(null)), { maxLength: 4 }),
});

describe('a JSON array read as JSON lines', () => {
  it('each element one line, whatever the chunks and the layout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (records, pretty, cuts) => {
          const text = Buffer.from(`\n ${JSON.stringify(records, null, pretty ? 2 : undefined)}\n`);
          const lines = (await collect(chunked(text, cuts))).split('\n').filter((l) => l !== '');
          expect(lines.map((l) => JSON.parse(l))).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('escapes across a chunk boundary, cut at every byte', async () => {
    const records = [
      { uri: 'a\\"b\\\\', q: '\\\\\\"],{', n: 1 },
      { uri: '"', q: '\\' },
    ];
    const text = Buffer.from(JSON.stringify(records));
    for (let cut = 0; cut <= text.length; cut++) {
      const lines = (await collect(chunked(text, [cut]))).split('\n').filter((l) => l !== '');
      expect(
        lines.map((l) => JSON.parse(l)),
        `cut at ${cut}`,
      ).toEqual(records);
    }
  });

  it('an array of lines as text: each its text', async () => {
    const lines = ['{"type":"request","uri":"/a,b"}', '{"type":"logout"}'];
    const text = Buffer.from(JSON.stringify(lines));
    expect(await collect(chunked(text, [3, 17, 40]))).toBe(`${lines.join('\n')}\n`);
  });

  it.each([
    ['JSON lines', '{"type":"request"}\n{"type":"logout"}\n'],
    ['a text log that begins with a bracket', '[pod/web-1/app] GET / 200\n[pod/web-1/app] {"a":1}\n'],
    ['white space only', '  \n\n'],
    ['empty', ''],
  ])('%s: passed through untouched', async (_, text) => {
    expect(await collect(chunked(Buffer.from(text), [1, 2]))).toBe(text);
  });

  it('an element longer than any line: kept to just over the bound, so the line reader skips it as too long', async () => {
    const long = { type: 'request', uri: 'x'.repeat(MAX_LINE_BYTES * 2) };
    const text = Buffer.from(JSON.stringify([long, { type: 'logout' }]));
    const out = (await collect(chunked(text, [1_000, 900_000, 1_900_000]))).split('\n');
    expect(out[0]).toHaveLength(MAX_LINE_BYTES + 1);
    expect(out[1]).toBe('{"type":"logout"}');
  });

  it('an array cut short: the elements before the cut, and what was read of the last', async () => {
    const text = Buffer.from('[{"type":"request","n":1},{"type":"request","n":2},{"type":"req');
    expect(await collect(chunked(text, [10]))).toBe(
      '{"type":"request","n":1}\n{"type":"request","n":2}\n{"type":"req\n',
    );
  });
});

describe('search responses read as JSON lines', () => {
  /** A response with keys before and after its hits, some named hits, as Elasticsearch and OpenSearch write it. */
  const response = (hits: unknown[], id: number) => ({
    _scroll_id: `scroll "hits" ${id}`,
    took: id,
    note: 'hits',
    _shards: { total: 1, hits: ['{"x":1}'] },
    hits: {
      total: { value: hits.length, relation: 'eq' },
      hits: hits.map((h, i) => ({ _id: `${id}-${i}`, _source: h })),
      max_score: null,
    },
    aggregations: { hits: { hits: [{ _source: 'not a hit' }] } },
  });

  it('each hit one line, in order, over one or several responses, whatever the chunks and the layout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (pages, pretty, cuts) => {
          const responses = pages.map((hits, id) => response(hits, id));
          const text = Buffer.from(
            ` ${responses.map((r) => JSON.stringify(r, null, pretty ? 2 : undefined)).join('\n')}\n`,
          );
          const lines = (await collect(chunked(text, cuts))).split('\n').filter((l) => l !== '');
          expect(lines.map((l) => JSON.parse(l))).toEqual(responses.flatMap((r) => r.hits.hits));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a response whose hits follow a scroll id of hundreds of kilobytes is read', async () => {
    const response = { _scroll_id: 'F'.repeat(300_000), took: 1, hits: { hits: [{ a: 1 }, { b: 2 }] } };
    for (const cuts of [[], [5, 70_000, 299_990]])
      expect(await collect(chunked(Buffer.from(JSON.stringify(response)), cuts))).toBe('{"a":1}\n{"b":2}\n');
  });

  it('JSON lines are decided at their first line: a later line shaped as a response is passed on as it is', async () => {
    const first = `${JSON.stringify({ type: 'request', uri: '/a' })}\n`;
    const later = `${JSON.stringify({ hits: { hits: [{ a: 1 }] } })}\n`;
    expect(await collect(chunked(Buffer.from(first + later), [3]))).toBe(first + later);
  });

  it('JSON lines, or an object without hits in its first SEARCH_RESPONSE_HEAD_BYTES, pass through untouched', async () => {
    const lines = `${JSON.stringify({ type: 'request', uri: '/a', hits: 3 })}\n${JSON.stringify({ type: 'request', hits: { hits: 'x' } })}\n`;
    expect(await collect(chunked(Buffer.from(lines), [7, 40]))).toBe(lines);
    const late = `{"padding":"${'p'.repeat(SEARCH_RESPONSE_HEAD_BYTES)}","hits":{"hits":[{"a":1}]}}\n`;
    for (const cuts of [[], [1000, 40_000, SEARCH_RESPONSE_HEAD_BYTES + 5]]) {
      const read = await collect(chunked(Buffer.from(late), cuts));
      expect(read === late).toBe(true);
    }
  });
});
