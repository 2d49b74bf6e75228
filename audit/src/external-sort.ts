import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileErrorText } from '../../lib/file-error-text.ts';
import type { AuditRecord } from './audit-record.ts';
import { createLineScanner } from './line-scanner.ts';
import { lineTime } from './merged-records.ts';

/**
 * Runs on temporary files: record streams in the time order their lines were written, one JSON
 * record per line. An external sort of input that is not in that order writes them (each run
 * sorted in memory; the caller then merges the runs as it merges sources), and so does a merge
 * of more streams than may be open at once (merged-records.ts). Memory holds one run while
 * sorting, then one read chunk per run.
 */

/** Records per sorted run: about 100 MiB of parsed records. */
export const RUN_RECORDS = 200_000;
const RUN_READ_BYTES = 256 * 1024;
const WRITE_BATCH = 2_000;

/** A temporary run file that could not be written (a full disk): the audit cannot go on. */
export class RunFileError extends Error {
  constructor(path: string, cause: unknown) {
    super(
      `cannot write the temporary file ${path}: ${fileErrorText(cause)} (TMPDIR needs about as much room as the input)`,
      { cause },
    );
    this.name = 'RunFileError';
  }
}

/**
 * Writes records, in the order given, to one run file with back-pressure: `add` takes a record at
 * once; `pause` is a promise to wait for while the file's buffer is full, else undefined.
 */
export class RunWriter {
  readonly path: string;
  readonly #out;
  readonly #failed: Promise<never>;
  #batch: string[] = [];
  #drain: Promise<unknown> | undefined;

  constructor(path: string) {
    this.path = path;
    this.#out = createWriteStream(path);
    this.#failed = once(this.#out, 'error').then(([error]) => {
      throw new RunFileError(path, error);
    });
    // Its rejection is awaited only while waiting on the file; until then it must not go unhandled.
    this.#failed.catch(() => undefined);
  }

  add(record: AuditRecord): void {
    this.#batch.push(JSON.stringify(record));
    if (this.#batch.length >= WRITE_BATCH) this.#flush();
  }

  pause(): Promise<unknown> | undefined {
    const drain = this.#drain;
    this.#drain = undefined;
    return drain === undefined ? undefined : Promise.race([drain, this.#failed]).catch(this.#named);
  }

  /** Writes what is left and closes the file; resolves with its path. */
  async finish(): Promise<string> {
    this.#flush();
    await this.pause();
    this.#out.end();
    await Promise.race([once(this.#out, 'finish'), this.#failed]).catch(this.#named);
    return this.path;
  }

  // events.once rejects with the stream's own error too: whichever comes first, it names the file.
  readonly #named = (error: unknown): never => {
    throw error instanceof RunFileError ? error : new RunFileError(this.path, error);
  };

  /** Closes the file unfinished (the merge feeding it failed). */
  abandon(): void {
    this.#out.destroy();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const text = `${this.#batch.join('\n')}\n`;
    this.#batch = [];
    if (!this.#out.write(text)) this.#drain ??= once(this.#out, 'drain');
  }
}

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
    const writer = new RunWriter(join(dir, `${name}-${paths.length}.jsonl`));
    for (const record of run) {
      writer.add(record);
      const full = writer.pause();
      if (full) await full;
    }
    paths.push(await writer.finish());
    run = [];
  };
  for await (const batch of batches) {
    for (const record of batch) run.push(record);
    if (run.length >= runRecords) await spill();
  }
  await spill();
  return paths;
}

/** The records of one run file, a read chunk at a time. */
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
