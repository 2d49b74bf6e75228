import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createRequestWriter } from '../../audit/src/answer-writer.ts';
import { requestLine } from '../../audit/src/render-jsonl.ts';
import { requestRecord } from '../helpers/audit-records.ts';

/** A stream that keeps what it is given, write by write; `highWaterMark` in bytes. */
function recordingStream(highWaterMark = 16 * 1024) {
  const writes: string[] = [];
  let release: (() => void) | undefined;
  const stream = new Writable({
    highWaterMark,
    decodeStrings: false,
    write(chunk: string, _encoding, done) {
      writes.push(chunk);
      if (hold) release = done;
      else done();
    },
  });
  let hold = false;
  return {
    stream,
    writes,
    /** From now on each write completes only when released (a reader that is slow). */
    holdWrites(): void {
      hold = true;
    },
    releaseAll(): void {
      hold = false;
      release?.();
    },
  };
}

describe('the answer as it is written', () => {
  it('gathers lines into writes of 64 KiB, the same bytes in the same order', async () => {
    const { stream, writes } = recordingStream();
    const writer = createRequestWriter(stream, 'jsonl');
    const records = Array.from({ length: 5_000 }, (_, i) => requestRecord(1_764_000_000_000 + i * 7));
    for (const record of records) writer.write(record);
    await writer.end();
    const expected = records.map((r) => requestLine(r, null, [])).join('');
    expect(writes.join('')).toBe(expected);
    // About 2.4 MB of lines: some 40 writes, where each line was one (5,000).
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(expected.length / (64 * 1024)) + 1);
    for (const chunk of writes.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('a line goes out at the end of the turn that wrote it: a reader sees each answer as soon as before', async () => {
    const { stream, writes } = recordingStream();
    const writer = createRequestWriter(stream, 'jsonl');
    writer.write(requestRecord(1_764_000_000_000));
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    writer.write(requestRecord(1_764_000_000_001));
    await nextTurn();
    expect(writes).toHaveLength(2);
  });

  it('a reader that is slow still holds the reading back: pause() waits while its buffer is full', async () => {
    const out = recordingStream(128 * 1024);
    const writer = createRequestWriter(out.stream, 'jsonl');
    out.holdWrites();
    let i = 0;
    while (writer.pause() === undefined && i < 100_000) writer.write(requestRecord(1_764_000_000_000 + i++));
    // Past the stream's 128 KiB, in writes of 64 KiB: held after a few hundred lines, not 100,000.
    expect(i).toBeLessThan(2_000);
    const paused = writer.pause() as Promise<unknown>;
    let drained = false;
    void paused.then(() => {
      drained = true;
    });
    await nextTurn();
    expect(drained).toBe(false);
    out.releaseAll();
    await paused;
    await writer.end();
    expect(out.writes.join('').split('\n').length - 1).toBe(i);
  });
});
