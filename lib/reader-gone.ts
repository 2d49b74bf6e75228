import type { Writable } from 'node:stream';

/** The exit status of a command whose reader went away: 128 + SIGPIPE, as a program SIGPIPE ended reports. */
export const READER_GONE_STATUS = 141;

/**
 * Ends the process quietly once the reader of `stream` has gone (`| head`, a pager closed early):
 * what is left to write has nobody to read it. Before, the write failed with EPIPE and the command
 * ended with a stack trace. Other errors are thrown, as an 'error' nobody listened for was.
 */
export function exitWhenReaderGone(stream: Writable): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(READER_GONE_STATUS);
  });
}
