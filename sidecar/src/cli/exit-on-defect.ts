import type { Server } from 'node:http';
import { logEvent } from '../../../contract/event-writer.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';

/** The exit status of a sidecar ended by an error nothing handled (sysexits' EX_SOFTWARE). */
export const DEFECT_EXIT_CODE = 70;

/** How long the log lines held get to reach stdout before the exit. */
const FINAL_FLUSH_MS = 1_000;

const MAX_MESSAGE = 1_000;
const MAX_FRAMES = 10;

/**
 * An error that nothing handled (a throw outside every handler, a promise rejected with no
 * catch) ends the process, as Node.js would end it: nothing tells what state the rest is in. But
 * first the sidecar says so on the log stream (`sidecar_failed`, with the error and where it was
 * thrown), stops accepting connections, and writes the request lines it holds: they gather for up
 * to 5 ms before each write, and without this the lines of requests already answered were lost
 * with the process, together with the reason, which went to stderr as text only.
 */
export function exitOnDefect(
  sink: LogSink,
  server: Server,
  /** Told before the log is written out: what it still holds that the exit ends (each logs its line). */
  lastWords: () => void,
): void {
  let failing = false;
  const fail = (origin: 'uncaught_exception' | 'unhandled_rejection', thrown: unknown): void => {
    // A second error while the first is handled: the first is the one reported.
    if (failing) return;
    failing = true;
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    console.error(error);
    try {
      logEvent(sink, 'sidecar_failed', {
        origin,
        error: `${error.name}: ${error.message}`.slice(0, MAX_MESSAGE),
        stack: (error.stack ?? '')
          .split('\n')
          .filter((line) => line.trimStart().startsWith('at '))
          .slice(0, MAX_FRAMES)
          .map((line) => line.trim()),
      });
      server.close();
      lastWords();
    } catch {
      // the exit below still comes
    }
    const exit = () => process.exit(DEFECT_EXIT_CODE);
    setTimeout(exit, FINAL_FLUSH_MS);
    sink.flush().then(exit, exit);
  };
  process.on('uncaughtException', (error) => fail('uncaught_exception', error));
  process.on('unhandledRejection', (reason) => fail('unhandled_rejection', reason));
}
