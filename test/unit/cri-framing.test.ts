import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCriJoiner, criRecord, partialRecordFinder } from '../../audit/src/cri-framing.ts';
import {
  caseInsensitiveNeedles,
  createLineScanner,
  exactNeedles,
  MAX_LINE_BYTES,
  type Needles,
  scanLines,
} from '../../audit/src/line-scanner.ts';
import { conmonLog, containerdLog } from '../helpers/runtime-log.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// A runtime's log file splits the lines a container writes: CRI-O at the end of every 8 KiB
// read of the container's pipe, containerd every 16 KiB of a longer line. The audit joins the
// parts again, as the kubelet does for `kubectl logs`, with or without a search for needles.

const TIME = '2026-11-21T07:00:00.123456789+00:00';

describe('criRecord', () => {
  it.each([
    [`${TIME} stdout F {"a":1}`, { stream: 'stdout', partial: false, textStart: TIME.length + 10 }],
    [`${TIME} stderr P {"a":`, { stream: 'stderr', partial: true, textStart: TIME.length + 10 }],
    ['2026-11-21T07:00:00.1Z stdout P x', { stream: 'stdout', partial: true, textStart: 32 }],
    ['{"type":"request","uri":"/ stdout P "}', undefined],
    ['2026 stdout F not a time', undefined],
    [`${TIME} stdin F x`, undefined],
    [`${TIME} stdout X x`, undefined],
    ['', undefined],
  ])('%s', (line, expected) => {
    expect(criRecord(line)).toEqual(expected);
  });
});

describe('createCriJoiner', () => {
  const joined = (lines: string[], max = 100): { out: [string, boolean][]; tooLong: number } => {
    const out: [string, boolean][] = [];
    let tooLong = 0;
    const joiner = createCriJoiner(
      (line, wasJoined) => out.push([line, wasJoined]),
      max,
      () => tooLong++,
    );
    for (const line of lines) joiner.line(line);
    joiner.end();
    return { out, tooLong };
  };

  it('joins the parts of a line per stream, and passes whole lines and other text through', () => {
    const { out } = joined([
      `${TIME} stdout P {"a":`,
      `${TIME} stderr F boom`,
      `${TIME} stdout P "b`,
      '{"bare":true}',
      `${TIME} stdout F c"}`,
      `${TIME} stdout F {"d":1}`,
    ]);
    expect(out).toEqual([
      [`${TIME} stderr F boom`, false],
      ['{"bare":true}', false],
      [`${TIME} stdout F {"a":"bc"}`, true],
      [`${TIME} stdout F {"d":1}`, false],
    ]);
  });

  it('counts a line longer than the bound once, and hands on none of it', () => {
    const part = 'x'.repeat(40);
    const { out, tooLong } = joined(
      [
        `${TIME} stdout P ${part}`,
        `${TIME} stdout P ${part}`,
        `${TIME} stdout P ${part}`,
        `${TIME} stdout F ${part}`,
        `${TIME} stdout F ok`,
      ],
      100,
    );
    expect(tooLong).toBe(1);
    expect(out).toEqual([[`${TIME} stdout F ok`, false]]);
  });

  it('hands on a line whose last part never came when the file ends (cut, as it is)', () => {
    const { out } = joined([`${TIME} stdout F {"a":1}`, `${TIME} stdout P {"b":`]);
    expect(out).toEqual([
      [`${TIME} stdout F {"a":1}`, false],
      [`${TIME} stdout F {"b":`, true],
    ]);
  });
});

describe('partialRecordFinder', () => {
  it('finds each record of a part, and no line that only holds the words', () => {
    const text = [
      `${TIME} stdout F {"uri":"/ stdout P "}`,
      '{"uri":"/a stdout P b"}',
      `${TIME} stdout P {"a":`,
      `${TIME} stdout F 1}`,
      '2026-11-21T07:00:00Z stderr P x',
      '',
    ].join('\n');
    const buffer = Buffer.from(text);
    const find = partialRecordFinder(buffer, buffer.length);
    const starts: number[] = [];
    for (let from = 0; ; ) {
      const at = find(from);
      if (at === -1) break;
      starts.push(at);
      from = buffer.indexOf(0x0a, at) + 1;
    }
    expect(starts.map((at) => buffer.toString('utf8', at, buffer.indexOf(0x0a, at)))).toEqual([
      `${TIME} stdout P {"a":`,
      '2026-11-21T07:00:00Z stderr P x',
    ]);
  });
});

describe('needle searches', () => {
  /** The first match at or after each offset, by brute force. */
  const firstMatch = (text: string, needles: string[], from: number, fold: boolean): number => {
    const hay = fold ? text.toLowerCase() : text;
    let best = -1;
    for (const needle of needles) {
      const at = hay.indexOf(fold ? needle.toLowerCase() : needle, from);
      if (at !== -1 && (best === -1 || at < best)) best = at;
    }
    return best;
  };

  it('answer as a fresh search would, for offsets in any order that moves forward', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('ab', 'Ab', 'b', 'x', 'zz', '\n', 'AB'), { maxLength: 60 }),
        fc.array(fc.nat(130), { minLength: 1, maxLength: 20 }),
        (pieces, offsets) => {
          const text = pieces.join('');
          const buffer = Buffer.from(text);
          const exact = exactNeedles([Buffer.from('ab'), Buffer.from('zz')]).search(buffer, buffer.length);
          const folded = caseInsensitiveNeedles(['ab', 'zz']).search(buffer, buffer.length);
          let from = 0;
          for (const step of offsets.sort((a, b) => a - b)) {
            from = Math.min(step, buffer.length);
            expect(exact(from)).toBe(firstMatch(text, ['ab', 'zz'], from, false));
            expect(folded(from)).toBe(firstMatch(text, ['ab', 'zz'], from, true));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the line scanner on a runtime log', () => {
  /** Lines of every length around the runtimes' split sizes, some holding the needle, one with it across 8 KiB. */
  function containerOutput(seed: number): { lines: string[]; output: Buffer } {
    const random = seededRandom(seed);
    const lines: string[] = [];
    let bytes = 0;
    for (let n = 0; n < 60; n++) {
      const length = [40, 900, 8_200, 16_383, 16_384, 16_385, 40_000][Math.floor(random() * 7)] as number;
      const needle = random() < 0.3 ? 'Grace.Hopper@corp.example' : '';
      const fill = 'y'.repeat(Math.max(0, length - needle.length - 20));
      const at = Math.floor(random() * fill.length);
      lines.push(`{"n":${n},"f":"${fill.slice(0, at)}${needle}${fill.slice(at)}"}`);
      bytes += (lines.at(-1) as string).length + 1;
    }
    // A line with the needle cut in two by the end of an 8 KiB read.
    const cut = 8192 - (bytes % 8192) - 5;
    lines.push(`{"cut":"${'z'.repeat(cut - 9)}grace.hopper@corp.example"}`);
    return { lines, output: Buffer.from(`${lines.join('\n')}\n`) };
  }

  const textOf = (line: string): string => line.slice(criRecord(line)?.textStart ?? 0);

  async function scanned(file: Buffer, needles: readonly Buffer[] | Needles, chunk: number) {
    const found: string[] = [];
    const chunks: Buffer[] = [];
    for (let at = 0; at < file.length; at += chunk) chunks.push(file.subarray(at, at + chunk));
    const stats = await scanLines(
      (async function* () {
        yield* chunks;
      })(),
      (line) => found.push(textOf(line)),
      needles,
    );
    return { found, stats };
  }

  it.each([
    ['CRI-O', conmonLog],
    ['containerd', containerdLog],
  ])('joins what %s split, whole or searched, whatever the read sizes', async (_runtime, frame) => {
    for (const seed of [1, 2, 3]) {
      const { lines, output } = containerOutput(seed);
      const file = frame(output);
      const holding = lines.filter((line) => line.toLowerCase().includes('grace.hopper@corp.example'));
      for (const chunk of [1000, 65_536, 1 << 20]) {
        const all = await scanned(file, [], chunk);
        expect(all.found).toEqual(lines);
        const folded = await scanned(file, caseInsensitiveNeedles(['grace.hopper@corp.example']), chunk);
        expect(folded.found).toEqual(holding);
        // A joined line without the needle is searched once joined, and not handed on.
        expect(folded.stats.candidates).toBe(holding.length);
        const exact = await scanned(file, [Buffer.from('Grace.Hopper@corp.example')], chunk);
        expect(exact.found).toEqual(lines.filter((line) => line.includes('Grace.Hopper@corp.example')));
      }
    }
  });

  it('counts a line longer than any Gatehouse line, drops all of it, and reads the next', () => {
    const found: string[] = [];
    const scanner = createLineScanner((line) => found.push(line), []);
    scanner.push('{"a":1}\n');
    const long = Buffer.alloc(64 * 1024, 0x78);
    for (let sent = 0; sent <= MAX_LINE_BYTES; sent += long.length) scanner.push(long);
    scanner.push('tail of the long line\n{"b":2}\n');
    scanner.end();
    expect(found).toEqual(['{"a":1}', '{"b":2}']);
    expect(scanner.stats.tooLong).toBe(1);
    expect(scanner.stats.lines).toBe(3);
  });
});
