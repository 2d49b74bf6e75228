import type { Server } from 'node:http';
import { logEvent } from '../../../contract/event-writer.ts';
import { DEFECT_EXIT_CODE, onDefect } from '../../../lib/defects.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';

/** How long the log lines held get to reach stdout before the exit. */
export const FINAL_FLUSH_MS = 1_000;

/**
 * An error that nothing handled ends the sidecar (lib/defects.ts). But first it says so on the
 * log stream (`sidecar_failed`, with the error and where it was thrown), stops accepting
 * connections, and writes the request lines it holds: they gather for up to 5 ms before each
 * write, and without this the lines of requests already answered were lost with the process,
 * together with the reason, which went to stderr as text only.
 */
export function exitOnDefect(
  sink: LogSink,
  server: Server,
  /** Told before the log is written out: what it still holds that the exit ends (each logs its line). */
  lastWords: () => void,
  /** The secrets of the config in force, replaced wherever the error quotes them. */
  knownSecrets: () => readonly string[] = () => [],
): void {
  onDefect((report) => {
    try {
      logEvent(sink, 'sidecar_failed', report);
      server.close();
      lastWords();
    } catch {
      // the exit below still comes
    }
    const exit = () => process.exit(DEFECT_EXIT_CODE);
    setTimeout(exit, FINAL_FLUSH_MS);
    sink.flush().then(exit, exit);
  }, knownSecrets);
}
