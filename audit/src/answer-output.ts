import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { fileErrorText } from '../../lib/file-error-text.ts';
import { exitWhenReaderGone } from '../../lib/reader-gone.ts';

/** A write of the answer failed (a full disk): what was written is not an answer. */
export class OutputWriteError extends Error {
  constructor(path: string, cause: unknown) {
    super(`cannot write ${path}: ${fileErrorText(cause)}`, { cause });
    this.name = 'OutputWriteError';
  }
}

/**
 * Where the answer goes: standard output (a reader that goes away ends the audit quietly), or a
 * file opened before any input is read, so that a path that cannot be written fails at once. A
 * write to the file that fails is kept (`failure()`): whoever waits on the output stops there (the
 * reading stops, and the temporary files are removed on the way out), and every wait on the output
 * ends with it.
 */
export interface AnswerOutput {
  readonly stream: Writable;
  /** The failed write, once one failed. */
  failure(): OutputWriteError | undefined;
  /**
   * For a reading that waits on the writer (`pause`, undefined or a promise while its buffer is
   * full): a rejected promise once a write failed, so the reading stops; else what `pause` gives.
   */
  guardedPause(pause: () => Promise<unknown> | undefined): Promise<unknown> | undefined;
  /** Waits for `work` on the output, or until a write fails (OutputWriteError). */
  guard<T>(work: Promise<T>): Promise<T>;
  /** Ends the file (nothing for standard output). */
  close(): Promise<void>;
}

export async function openAnswerOutput(path: string | undefined): Promise<AnswerOutput> {
  if (path === undefined) {
    exitWhenReaderGone(process.stdout);
    return {
      stream: process.stdout,
      failure: () => undefined,
      guardedPause: (pause) => pause(),
      guard: (work) => work,
      close: async () => undefined,
    };
  }
  const stream = (await open(path, 'w')).createWriteStream();
  let failure: OutputWriteError | undefined;
  const failing = new Promise<never>((_, reject) =>
    stream.once('error', (error) => {
      failure = new OutputWriteError(path, error);
      reject(failure);
    }),
  );
  // Rejected only for those who wait on the output; until then it must not go unhandled.
  failing.catch(() => undefined);
  const guard = <T>(work: Promise<T>): Promise<T> => Promise.race([work, failing]);
  return {
    stream,
    failure: () => failure,
    guardedPause: (pause) => {
      if (failure) return failing;
      const waiting = pause();
      return waiting && guard(waiting);
    },
    guard,
    close: () =>
      guard(
        new Promise<void>((resolve, reject) =>
          // The callback gets the error of a last write that fails, before the 'error' event.
          stream.end((error?: Error | null) =>
            error ? reject(new OutputWriteError(path, error)) : resolve(),
          ),
        ),
      ),
  };
}

/** Writes the answer piece by piece, with back-pressure. */
export async function writePieces(pieces: readonly string[], output: AnswerOutput): Promise<void> {
  for (const piece of pieces)
    if (!output.stream.write(piece)) await output.guard(once(output.stream, 'drain'));
}
