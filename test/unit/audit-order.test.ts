import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../audit/src/audit-record.ts';
import { RunFileError, RunWriter, readRun, writeSortedRuns } from '../../audit/src/external-sort.ts';
import { fileReadChunkBytes } from '../../audit/src/log-sources.ts';
import { MAX_OPEN_STREAMS, mergeManyRecords } from '../../audit/src/many-streams.ts';
import { lineTime, mergeRecords } from '../../audit/src/merged-records.ts';
import { inTimeOrder } from '../../audit/src/time-order.ts';
import { authRecord } from '../helpers/audit-records.ts';

// Input out of time order is found by a byte scan and sorted on temporary files in runs that
// merge back into one exact order.

const at = (second: number) => new Date(Date.UTC(2026, 10, 21, 7, 0, second)).toISOString();
const native = (second: number) => `{"type":"request","time":"${at(second)}","requestId":"r${second}"}`;
const cloudflare = (second: number) =>
  `{"ClientIP":"192.0.2.1","EdgeEndTimestamp":"${at(second)}","GatehouseType":"request"}`;
const splunk = (second: number) => JSON.stringify({ result: { _raw: native(second) } });
/** A Cloud Logging entry of a native line whose `time` is kept on the entry only. */
const cloudLogging = (second: number) =>
  JSON.stringify({ insertId: `i${second}`, jsonPayload: { type: 'request' }, timestamp: at(second) });

async function* chunks(text: string, size = 7): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('inTimeOrder', () => {
  it.each([
    ['native lines in order', [native(1), native(2), native(3)], true],
    ['one step back beyond the tolerance', [native(1), native(5), native(2)], false],
    ['jitter within the tolerance', [native(2), native(1), native(3)], true],
    ['two sidecars concatenated', [native(50), native(51), native(1), native(2)], false],
    ['Cloudflare profile out of order', [cloudflare(9), cloudflare(3)], false],
    ['Splunk _raw out of order', [splunk(9), splunk(3)], false],
    ['lines without a time are ignored', [native(1), '{"msg":"x"}', 'not json', native(2)], true],
    [
      'a time that is not the sidecar format is ignored',
      [native(5), '{"time":"yesterday"}', native(6)],
      true,
    ],
    ['Cloud Logging entries newest first (their timestamp)', [cloudLogging(9), cloudLogging(3)], false],
    ['Cloud Logging entries in order', [cloudLogging(3), cloudLogging(9)], true],
    [
      'the line\u2019s own time first, before a log store\u2019s timestamp',
      [
        JSON.stringify({ jsonPayload: JSON.parse(native(9)), timestamp: at(1) }),
        JSON.stringify({ jsonPayload: JSON.parse(native(10)), timestamp: at(2) }),
      ],
      true,
    ],
    [
      'CloudWatch export lines (a time, then the event)',
      [`${at(9)} ${JSON.stringify({ log: native(9) })}`, `${at(1)} ${JSON.stringify({ log: native(1) })}`],
      false,
    ],
    [
      'CRI-framed lines',
      [`2026-11-21T07:00:09Z stdout F ${native(9)}`, `2026-11-21T07:00:01Z stdout F ${native(1)}`],
      false,
    ],
  ])('%s', async (_, lines, ordered) => {
    expect(await inTimeOrder(chunks(`${lines.join('\n')}\n`), 1000)).toBe(ordered);
    // Without the final newline too (the last line is still read).
    expect(await inTimeOrder(chunks(lines.join('\n'), 5), 1000)).toBe(ordered);
  });
});

describe('external sort', () => {
  it('sorts records into runs on disk that merge back into exact order, stable within a millisecond', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sort-test-'));
    const record = (second: number, id: string): AuditRecord =>
      authRecord('logout', Date.parse(at(second)), { app: 'wiki', requestId: id });
    const seconds = [9, 3, 7, 1, 8, 2, 2, 6, 5, 4, 0];
    const input = seconds.map((s, i) => record(s, `id${i}`));
    async function* batches() {
      for (let i = 0; i < input.length; i += 2) yield input.slice(i, i + 2);
    }
    // A run is spilled once it holds 3 records or more: [4, 4, 3].
    const runs = await writeSortedRuns(batches(), dir, 'test', 3);
    expect(runs).toHaveLength(3);
    expect(readdirSync(dir)).toHaveLength(3);
    const out: AuditRecord[] = [];
    await mergeRecords(runs.map(readRun), (r) => out.push(r));
    expect(out.map(lineTime)).toEqual([...seconds].sort((a, b) => a - b).map((s) => Date.parse(at(s))));
    // The two records of second 2 came in one run, in the order read.
    expect(
      out.filter((r) => lineTime(r) === Date.parse(at(2))).map((r) => (r as { requestId: string }).requestId),
    ).toEqual(['id5', 'id6']);
    expect(out[0]).toEqual(input[10]);
  });
});

describe('a run file that cannot be written', () => {
  it('fails naming the file and what it needs, whether the write or its end fails first', async () => {
    const writer = new RunWriter('/dev/full');
    for (let i = 0; i < 5_000; i++)
      writer.add(authRecord('logout', Date.parse(at(0)) + i, { app: 'wiki', requestId: `r${i}` }));
    const failure = await writer.finish().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RunFileError);
    expect((failure as Error).message).toBe(
      'cannot write the temporary file /dev/full: no space left on device (TMPDIR needs about as much room as the input)',
    );
  });
});

describe('merging more streams than may be open at once', () => {
  const record = (ms: number, id: string): AuditRecord =>
    authRecord('logout', Date.parse(at(0)) + ms, { app: 'wiki', requestId: id });

  /** Streams of records interleaved in time, counting how many are open (read, not yet ended) at once. */
  function countedStreams(count: number, perStream: number, failAt?: number) {
    const open = { now: 0, most: 0 };
    const streams = Array.from({ length: count }, (_, s) =>
      (async function* () {
        open.now++;
        open.most = Math.max(open.most, open.now);
        try {
          for (let n = 0; n < perStream; n++) {
            if (s === failAt && n === 1) throw new Error(`stream ${s} cannot be read`);
            yield [record(n * count + s, `s${s}-r${n}`)];
          }
        } finally {
          open.now--;
        }
      })(),
    );
    return { open, streams };
  }

  it.each([
    [200, 8],
    [9, 8],
    [65, 64],
    [3, 2],
  ])('%i streams with %i open at most: every record in time order', async (count, maxOpen) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-merge-test-'));
    const { open, streams } = countedStreams(count, 5);
    const out: AuditRecord[] = [];
    await mergeManyRecords(streams, (r) => out.push(r), { maxOpen, runDir: async () => dir });
    expect(open.most).toBeLessThanOrEqual(maxOpen);
    expect(out).toHaveLength(count * 5);
    expect(out.map(lineTime)).toEqual(Array.from({ length: count * 5 }, (_, i) => Date.parse(at(0)) + i));
  });

  it('within the bound: one merge, no temporary file', async () => {
    let made = 0;
    const { open, streams } = countedStreams(8, 3);
    const out: AuditRecord[] = [];
    await mergeManyRecords(streams, (r) => out.push(r), {
      maxOpen: 8,
      runDir: async () => {
        made++;
        return tmpdir();
      },
    });
    expect(made).toBe(0);
    expect(open.most).toBe(8);
    expect(out).toHaveLength(24);
  });

  it('a stream that cannot be read fails the merge, also in a merge onto a temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-merge-test-'));
    const { open, streams } = countedStreams(20, 3, 2);
    await expect(
      mergeManyRecords(streams, () => undefined, { maxOpen: 4, runDir: async () => dir }),
    ).rejects.toThrow('stream 2 cannot be read');
    expect(open.now).toBe(0);
  });
});

describe('fileReadChunkBytes', () => {
  it.each([
    [1, 1024 * 1024],
    [16, 1024 * 1024],
    [24, Math.floor((16 * 1024 * 1024) / 24)],
    [MAX_OPEN_STREAMS, 256 * 1024],
    [1000, 64 * 1024],
    [0, 1024 * 1024],
  ])('%i files read at once: %i bytes each', (files, bytes) => {
    expect(fileReadChunkBytes(files)).toBe(bytes);
  });
});
