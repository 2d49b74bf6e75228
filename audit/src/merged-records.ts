import { type AuditRecord, parseAuditLine } from './audit-record.ts';
import { classifyLine, type InputDiagnostics } from './input-diagnostics.ts';
import { createLineScanner, type Needles } from './line-scanner.ts';
import { FilesCutError, type LogSource, TRUNCATED_CODES } from './log-sources.ts';

/** When a line was written: a request line at the request's end, an event at its time. Sidecars write in this order. */
export function lineTime(record: AuditRecord): number {
  return record.kind === 'request' ? record.end : record.time;
}

/** The records of one source, a chunk's worth at a time (empty batches skipped), counted in diagnostics. */
export async function* recordBatches(
  source: LogSource,
  chunks: AsyncIterable<Buffer | string>,
  needles: readonly Buffer[] | Needles,
  diagnostics: InputDiagnostics,
): AsyncGenerator<AuditRecord[]> {
  let batch: AuditRecord[] = [];
  const scanner = createLineScanner((line) => {
    const record = parseAuditLine(line);
    if (record) {
      diagnostics.recognised++;
      batch.push(record);
    } else diagnostics.skip(classifyLine(line), line);
  }, needles);
  let lines = 0;
  let bytes = 0;
  let tooLong = 0;
  const count = (): void => {
    diagnostics.lines += scanner.stats.lines - lines;
    diagnostics.bytes += scanner.stats.bytes - bytes;
    diagnostics.skipUnread('too_long', scanner.stats.tooLong - tooLong);
    lines = scanner.stats.lines;
    bytes = scanner.stats.bytes;
    tooLong = scanner.stats.tooLong;
  };
  try {
    for await (const chunk of chunks) {
      scanner.push(chunk);
      count();
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
    scanner.end();
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!TRUNCATED_CODES.has(code)) throw error;
    if (error instanceof FilesCutError) {
      // Files of a rotation series cut short: every file was read, each to its cut.
      scanner.end();
      for (const cut of error.cuts) {
        diagnostics.endedEarly.push(cut.file);
        diagnostics.warnings.push(
          `${cut.file}: the file ends early (${cut.reason}); the lines before the cut and the files rotated after it were read`,
        );
      }
    } else {
      diagnostics.endedEarly.push(source.name);
      diagnostics.warnings.push(
        `${source.name}: the file ends early (${(error as Error).message}); the lines before the cut were read`,
      );
    }
  } finally {
    count();
  }
  if (batch.length > 0) yield batch;
}

interface Head {
  readonly iterator: AsyncIterator<AuditRecord[]>;
  batch: AuditRecord[];
  index: number;
  time: number;
}

/** A binary min-heap of source heads by the time of their next record. */
class HeadHeap {
  readonly #items: Head[] = [];
  get size(): number {
    return this.#items.length;
  }
  peek(): Head | undefined {
    return this.#items[0];
  }
  push(head: Head): void {
    const items = this.#items;
    items.push(head);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as Head).time <= head.time) break;
      items[i] = items[parent] as Head;
      i = parent;
    }
    items[i] = head;
  }
  pop(): Head | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child =
          right < items.length && (items[right] as Head).time < (items[left] as Head).time ? right : left;
        if ((items[child] as Head).time >= last.time) break;
        items[i] = items[child] as Head;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Feeds the records of every stream to onRecord, merged by the time their lines were written:
 * each stream (one sidecar's log, or a sorted run of an input that was not in order) is in that
 * order already, so a heap of one head per stream gives one ordered stream, read a chunk at a
 * time. Memory holds one chunk's records per stream, not the input. onRecord runs synchronously;
 * the merge waits only to read the next chunk of a stream, and for `pause` when it gives a
 * promise (a writer whose buffer is full). Every stream is open at once: many-streams.ts bounds
 * how many.
 */
export async function mergeRecords(
  streams: readonly AsyncIterable<AuditRecord[]>[],
  onRecord: (record: AuditRecord) => void,
  pause?: () => Promise<unknown> | undefined,
): Promise<void> {
  const heap = new HeadHeap();
  /** Reads on until the head has a record; false once its stream is done. */
  const fill = async (head: Head): Promise<boolean> => {
    while (head.index >= head.batch.length) {
      const next = await head.iterator.next();
      if (next.done) return false;
      head.batch = next.value;
      head.index = 0;
    }
    head.time = lineTime(head.batch[head.index] as AuditRecord);
    return true;
  };
  const refill = async (head: Head): Promise<void> => {
    if (await fill(head)) heap.push(head);
  };
  const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
  try {
    // Every stream's first records are asked for at once: a pod log through the API server comes
    // once the kubelet has sent it, and one after another they took the sum of those waits.
    // They go into the heap in stream order, so records of the same time keep one order.
    const heads: Head[] = iterators.map((iterator) => ({ iterator, batch: [], index: 0, time: 0 }));
    const filled = await Promise.all(heads.map(fill));
    for (const [i, head] of heads.entries()) if (filled[i]) heap.push(head);
    for (let head = heap.pop(); head; head = heap.pop()) {
      // Take this stream's records while it stays the earliest, without going through the heap.
      const limit = heap.peek()?.time ?? Number.POSITIVE_INFINITY;
      const batch = head.batch;
      let i = head.index;
      do {
        onRecord(batch[i] as AuditRecord);
        i++;
      } while (i < batch.length && lineTime(batch[i] as AuditRecord) <= limit);
      head.index = i;
      const full = pause?.();
      if (full) await full;
      await refill(head);
    }
  } catch (error) {
    // One stream failed: the others close their sources (files, log requests) before the error goes on.
    await Promise.all(iterators.map((iterator) => iterator.return?.().catch(() => undefined)));
    throw error;
  }
}
