import { write } from 'node:fs';
import { type FilledChunk, LineWriter } from './line-writer.ts';

/** Bytes queued before the sink reports congestion and the server stops taking new requests. */
export const DEFAULT_HIGH_WATER_BYTES = 8 * 1024 * 1024;
/**
 * How long lines gather before one write takes them all. Each write is a round trip through
 * libuv's thread pool (a wake-up of a worker and of the event loop); in a saturated run the
 * 5 ms batch wrote 11,901 lines in 327 writes, where writing once per event-loop turn (while no
 * write was in flight) took 600 writes for 10,198 lines.
 */
export const DEFAULT_BATCH_MS = 5;
/** Bytes that start a write at once, without waiting for the batch time. */
const BATCH_BYTES = 256 * 1024;
const RETRY_MS = 5;

type WriteFn = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: null,
  callback: (error: NodeJS.ErrnoException | null, written: number) => void,
) => void;

/** Where JSON lines go. Writes never block the event loop and never drop a line. */
export interface LogSink {
  /** Queues one line (without its newline). */
  write(line: string): void;
  /**
   * Queues one line that `fill` writes as bytes (without its newline). If `fill` throws, nothing
   * of the line is queued and the error goes on to the caller.
   */
  writeLine(fill: (writer: LineWriter) => void): void;
  /** True while more than the high-water mark is queued. */
  readonly congested: boolean;
  /** Resolves once the queue is back under half the high-water mark. */
  whenUncongested(): Promise<void>;
  /** Resolves when every queued line has been written. */
  flush(): Promise<void>;
}

export interface FdSinkOptions {
  readonly fd?: number;
  readonly highWaterBytes?: number;
  /** Milliseconds lines gather before they are written together (0: every event-loop turn). */
  readonly batchMs?: number;
  /** The write call (fs.write); tests count calls through it. */
  readonly writeFn?: WriteFn;
  /** Told once if the reader has gone away (EPIPE); lines after that cannot be delivered. */
  readonly onBroken?: (error: NodeJS.ErrnoException) => void;
}

/**
 * Writes lines to a file descriptor (stdout by default) with asynchronous writes, batched over
 * a few milliseconds (or sooner once a batch is large). A slow pipe only grows the queue; the
 * congestion signal lets the server apply back-pressure instead of losing lines or stalling
 * requests already in flight.
 */
export function createFdSink(options: FdSinkOptions = {}): LogSink {
  const fd = options.fd ?? 1;
  const highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
  const batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
  const writeFn: WriteFn = options.writeFn ?? write;
  let timer: NodeJS.Timeout | undefined;
  const lines = new LineWriter();
  let inFlightBytes = 0;
  let writing = false;
  let scheduled = false;
  let broken = false;
  let idleWaiters: (() => void)[] = [];
  let drainWaiters: (() => void)[] = [];

  const settle = (): void => {
    const pending = lines.queuedBytes + inFlightBytes;
    if (pending <= highWater / 2 && drainWaiters.length > 0) {
      const waiters = drainWaiters;
      drainWaiters = [];
      for (const w of waiters) w();
    }
    if (pending === 0 && !writing && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  /** Writes the chunks of one batch in order, from `offset` in the first; then the next batch. */
  const writeChunks = (chunks: FilledChunk[], index: number, offset: number): void => {
    const current = chunks[index];
    if (current === undefined) {
      for (const { chunk } of chunks) lines.release(chunk);
      writing = false;
      inFlightBytes = 0;
      if (lines.queuedBytes === 0 || idleWaiters.length > 0) pump();
      else schedule();
      return;
    }
    const { chunk, end } = current;
    writeFn(fd, chunk, offset, end - offset, null, (error, written) => {
      if (error) {
        if (error.code === 'EAGAIN' || error.code === 'EINTR') {
          setTimeout(writeChunks, RETRY_MS, chunks, index, offset);
          return;
        }
        if (!broken) {
          broken = true;
          options.onBroken?.(error);
        }
        written = end - offset; // reader is gone: nothing more can be delivered
      }
      if (offset + written < end) writeChunks(chunks, index, offset + written);
      else writeChunks(chunks, index + 1, 0);
    });
  };

  /** Starts the next write after the batch time, or on the next turn once the batch is large. */
  const schedule = (): void => {
    if (writing || scheduled) return;
    if (batchMs === 0 || lines.queuedBytes >= BATCH_BYTES) {
      scheduled = true;
      setImmediate(pump);
    } else if (timer === undefined) {
      timer = setTimeout(pump, batchMs);
    }
  };

  const pump = (): void => {
    scheduled = false;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (writing) return;
    if (lines.queuedBytes === 0) {
      settle();
      return;
    }
    inFlightBytes = lines.queuedBytes;
    const chunks = lines.take();
    writing = true;
    settle();
    writeChunks(chunks, 0, 0);
  };

  const writeLine = (fill: (writer: LineWriter) => void): void => {
    lines.line(fill);
    schedule();
  };

  return {
    write(line: string): void {
      writeLine((w) => w.utf8(line));
    },
    writeLine,
    get congested() {
      return lines.queuedBytes + inFlightBytes > highWater;
    },
    whenUncongested() {
      if (lines.queuedBytes + inFlightBytes <= highWater / 2) return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    flush() {
      if (lines.queuedBytes === 0 && !writing) return Promise.resolve();
      const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
      if (!writing && !scheduled) pump(); // no reason to wait out the batch time
      return idle;
    },
  };
}

/** A sink that keeps lines in memory; for tests and for tools that post-process lines. */
export function createMemorySink(): LogSink & { readonly lines: string[] } {
  const lines: string[] = [];
  const staging = new LineWriter();
  return {
    lines,
    write: (line) => void lines.push(line),
    writeLine(fill) {
      staging.line(fill);
      for (const { chunk, end } of staging.take()) {
        // One line per take; the newline the writer adds is not part of a kept line.
        lines.push(chunk.toString('utf8', 0, end - 1));
        staging.release(chunk);
      }
    },
    congested: false,
    whenUncongested: () => Promise.resolve(),
    flush: () => Promise.resolve(),
  };
}
