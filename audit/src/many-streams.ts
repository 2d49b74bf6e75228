import { join } from 'node:path';
import type { AuditRecord } from './audit-record.ts';
import { RunWriter, readRun } from './external-sort.ts';
import { mergeRecords } from './merged-records.ts';

/**
 * Record streams open at once, at most. Each is a file descriptor or an API server request (a
 * pod's log), and holds a read chunk and that chunk's records: an audit of a directory of
 * rotated logs (thousands of files) opened every one, and failed with EMFILE where a process may
 * open 1,024 files (256 by default on macOS), after memory had grown by several MiB per file.
 */
export const MAX_OPEN_STREAMS = 64;

export interface ManyStreamsOptions {
  /** Streams open at once, at most (default MAX_OPEN_STREAMS; at least 2). */
  readonly maxOpen?: number;
  /** Where merged runs are written (made on first use; the caller removes it). */
  readonly runDir: () => Promise<string>;
  /** A promise to wait for before the final merge reads on (a reader of the answer that is behind), else undefined. */
  readonly pause?: () => Promise<unknown> | undefined;
}

/**
 * Feeds the records of every stream to onRecord, merged by the time their lines were written, as
 * mergeRecords does, with at most `maxOpen` streams open at once. Streams must open their source
 * only when first read (a generator does). Past the bound, the first streams are merged into a run
 * on a temporary file, as few as bring the count down to the bound, and that run goes last in
 * line; so with n streams each record is written and read again about log_maxOpen(n) times, and
 * not at all when n is within the bound.
 */
export async function mergeManyRecords(
  streams: readonly AsyncIterable<AuditRecord[]>[],
  onRecord: (record: AuditRecord) => void,
  options: ManyStreamsOptions,
): Promise<void> {
  const maxOpen = Math.max(2, options.maxOpen ?? MAX_OPEN_STREAMS);
  const waiting = [...streams];
  let merged = 0;
  while (waiting.length > maxOpen) {
    const group = waiting.splice(0, Math.min(maxOpen, waiting.length - maxOpen + 1));
    const writer = new RunWriter(join(await options.runDir(), `merged-${merged++}.jsonl`));
    try {
      await mergeRecords(
        group,
        (record) => writer.add(record),
        () => writer.pause(),
      );
    } catch (error) {
      writer.abandon();
      throw error;
    }
    waiting.push(readRun(await writer.finish()));
  }
  await mergeRecords(waiting, onRecord, options.pause);
}
