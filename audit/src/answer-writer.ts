import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RequestRecord } from './audit-record.ts';
import type { AuditAnswer } from './queries.ts';
import { requestLine, sessionJsonLines } from './render-jsonl.ts';
import { requestJson, requestTableWriter, sessionJson, sessionText } from './render-text.ts';
import type { Session } from './sessions.ts';

/** Answer text gathered before one write: a write per line was an eighth of an every-session answer's time. */
const WRITE_BYTES = 64 * 1024;

/**
 * Writes to the stream as the answer comes, queued on it: `pause()` gives a promise while the
 * stream's buffer is full (the reading waits for it, so a slow reader such as a pager holds the
 * audit back instead of the answer piling up in memory), and `drained()` waits until it is out.
 * Lines are gathered into writes of 64 KiB, and what is gathered goes out at the end of the
 * current turn of the event loop at the latest, so a reader sees each answer as soon as before.
 */
function queuedWriter(out: Writable) {
  // While the stream's buffer is full: settles at its next 'drain' (listened for from the write
  // that filled it, so a drain before anyone waits is not missed).
  let full: Promise<unknown> | undefined;
  let gathered = '';
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    if (gathered === '') return;
    const text = gathered;
    gathered = '';
    if (out.write(text) || full) return;
    full = once(out, 'drain').finally(() => {
      full = undefined;
    });
    // A failed write rejects it; whoever waits on the output is told (answer-output.ts).
    full.catch(() => undefined);
  };
  return {
    write(text: string): void {
      gathered += text;
      if (gathered.length >= WRITE_BYTES) flush();
      else if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    },
    pause: (): Promise<unknown> | undefined => full,
    async drained(): Promise<void> {
      flush();
      if (full) await full;
    },
  };
}

/**
 * Writes sessions as they are over, so an answer over any number of lines is never held whole:
 * the table (its count as the last line), a JSON array, or JSON lines.
 */
export function createSessionWriter(out: Writable, format: 'table' | 'json' | 'jsonl') {
  const { write, pause, drained } = queuedWriter(out);
  let sessions = 0;
  let anomalies = 0;
  return {
    pause,
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
      await drained();
    },
  };
}

/**
 * Writes the requests of a `requests` answer as they come, in the order of their start, so an
 * answer over any number of lines is never held whole: the table (columns sized from its first
 * rows), a JSON array, or JSON lines.
 */
export function createRequestWriter(out: Writable, format: 'table' | 'json' | 'jsonl') {
  const { write, pause, drained } = queuedWriter(out);
  const table = requestTableWriter(write);
  let requests = 0;
  return {
    pause,
    write(request: RequestRecord): void {
      requests++;
      if (format === 'table') table.row(request);
      else if (format === 'json')
        write(`${requests === 1 ? '[\n' : ',\n'}${JSON.stringify(requestJson(request))}`);
      else write(requestLine(request, null, []));
    },
    async end(): Promise<void> {
      if (format === 'table') table.end();
      else if (format === 'json') write(requests === 0 ? '[]\n' : '\n]\n');
      await drained();
    },
  };
}

/**
 * Requests one HTML page shows, at most (about 70 MB of page): a browser does not open a page of
 * every request of a busy month (the 1M-line corpus made 678 MB), and the page needs its whole
 * answer in memory first.
 */
export const MAX_PAGE_REQUESTS = 100_000;

/** An answer too large for one HTML page: the question is to be narrowed, or asked in another format. */
export class AnswerTooLargeError extends Error {
  constructor(requests: number, limit = MAX_PAGE_REQUESTS) {
    super(
      `the answer holds more than ${limit.toLocaleString('en')} requests (${requests.toLocaleString('en')} so far), too many for one page: narrow it (--user, --since/--until, --app, --path) or use --format jsonl`,
    );
    this.name = 'AnswerTooLargeError';
  }
}

/**
 * Collects the sessions or requests of an HTML page as they come, counting requests: `pause`
 * rejects with AnswerTooLargeError once they pass MAX_PAGE_REQUESTS, so the reading stops there
 * instead of holding an answer no page can show.
 */
export function createPageCollector(limit = MAX_PAGE_REQUESTS) {
  const sessions: Session[] = [];
  const requests: RequestRecord[] = [];
  let counted = 0;
  const tooLarge = (): AnswerTooLargeError | undefined =>
    counted > limit ? new AnswerTooLargeError(counted, limit) : undefined;
  return {
    onSession(session: Session): void {
      sessions.push(session);
      counted += session.requests.length;
    },
    onRequest(request: RequestRecord): void {
      requests.push(request);
      counted++;
    },
    tooLarge,
    pause(): Promise<never> | undefined {
      const error = tooLarge();
      return error ? Promise.reject(error) : undefined;
    },
    /** The answer with what was collected. */
    answer(answer: AuditAnswer): AuditAnswer {
      if (answer.kind === 'sessions') return { ...answer, sessions: [...sessions, ...answer.sessions] };
      if (answer.kind === 'requests') return { ...answer, requests: [...requests, ...answer.requests] };
      return answer;
    },
  };
}
