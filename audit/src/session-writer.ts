import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { sessionJsonLines } from './render-jsonl.ts';
import { sessionJson, sessionText } from './render-text.ts';
import type { Session } from './sessions.ts';

/**
 * Writes sessions as they are over, so an answer over any number of lines is never held whole:
 * the table (its count as the last line), a JSON array, or JSON lines. Writes are queued on the
 * stream; pause() gives a promise while the stream's buffer is full (the reading waits for it, so
 * a slow reader such as a pager holds the audit back instead of the answer piling up in memory);
 * end() waits until they are out.
 */
export function createSessionWriter(out: Writable, format: 'table' | 'json' | 'jsonl') {
  let sessions = 0;
  let anomalies = 0;
  // While the stream's buffer is full: settles at its next 'drain' (listened for from the write
  // that filled it, so a drain before anyone waits is not missed).
  let full: Promise<unknown> | undefined;
  const write = (text: string): void => {
    if (!out.write(text) && !full)
      full = once(out, 'drain').finally(() => {
        full = undefined;
      });
  };
  return {
    pause: (): Promise<unknown> | undefined => full,
    write(session: Session): void {
      sessions++;
      anomalies += session.anomalies.length;
      if (format === 'table') write(`${sessions === 1 ? '' : '\n'}${sessionText(session)}`);
      else if (format === 'json')
        write(`${sessions === 1 ? '[\n' : ',\n'}${JSON.stringify(sessionJson(session))}`);
      else for (const line of sessionJsonLines(session)) write(line);
    },
    async end(): Promise<void> {
      if (format === 'table')
        write(
          sessions === 0
            ? 'No sessions found.\n'
            : `\n${sessions} session${sessions === 1 ? '' : 's'}, ${anomalies} anomal${anomalies === 1 ? 'y' : 'ies'}\n`,
        );
      else if (format === 'json') write(sessions === 0 ? '[]\n' : '\n]\n');
      if (full) await full;
    },
  };
}
