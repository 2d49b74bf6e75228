import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { AuditRecord } from './audit-record.ts';
import { createLineScanner } from './line-scanner.ts';
import { lineTime } from './merged-records.ts';

/**
 * An external sort of audit records by the time their lines were written, for input that is not
 * in that order: records are taken a run at a time, each run sorted in memory and written to a
 * temporary file; the caller then merges the runs as it merges sources. Memory holds one run
 * while sorting, then one read chunk per run.
 */

/** Records per sorted run: about 100 MiB of parsed records. */
export const RUN_RECORDS = 200_000;
const RUN_READ_BYTES = 256 * 1024;
const WRITE_BATCH = 2_000;

/** Writes sorted runs of the records into dir; resolves with their paths, in order. */
export async function writeSortedRuns(
  batches: AsyncIterable<AuditRecord[]>,
  dir: string,
  name: string,
  runRecords = RUN_RECORDS,
): Promise<string[]> {
  const paths: string[] = [];
  let run: AuditRecord[] = [];
  const spill = async (): Promise<void> => {
    if (run.length === 0) return;
    // Array#sort is stable: records of the same millisecond keep the order they were read in.
    run.sort((a, b) => lineTime(a) - lineTime(b));
    const path = join(dir, `${name}-${paths.length}.jsonl`);
    const out = createWriteStream(path);
    const failed = once(out, 'error').then(([error]) => {
      throw error;
    });
    for (let i = 0; i < run.length; i += WRITE_BATCH) {
      const text = `${run
        .slice(i, i + WRITE_BATCH)
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`;
      if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    paths.push(path);
    run = [];
  };
  for await (const batch of batches) {
    for (const record of batch) run.push(record);
    if (run.length >= runRecords) await spill();
  }
  await spill();
  return paths;
}

/** The records of one sorted run, a read chunk at a time. */
export async function* readRun(path: string): AsyncGenerator<AuditRecord[]> {
  let batch: AuditRecord[] = [];
  const scanner = createLineScanner((line) => batch.push(JSON.parse(line) as AuditRecord));
  for await (const chunk of createReadStream(path, { highWaterMark: RUN_READ_BYTES })) {
    scanner.push(chunk as Buffer);
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  scanner.end();
  if (batch.length > 0) yield batch;
}
