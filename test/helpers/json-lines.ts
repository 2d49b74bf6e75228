import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export type JsonLine = Record<string, unknown>;

/** The JSON lines a process writes, collected as they arrive, and a way to wait for one. */
export interface JsonLineReader {
  readonly lines: JsonLine[];
  /** Resolves with the first line (already seen or still to come) that matches; rejects after timeoutMs. */
  waitForLine(match: (line: JsonLine) => boolean, timeoutMs?: number): Promise<JsonLine>;
}

/** Reads one JSON object per line from a stream (a child's stdout). */
export function readJsonLines(stream: Readable, describeTimeout: () => string = () => ''): JsonLineReader {
  const lines: JsonLine[] = [];
  const waiters: { match: (l: JsonLine) => boolean; resolve: (l: JsonLine) => void }[] = [];
  createInterface({ input: stream }).on('line', (text) => {
    const line = JSON.parse(text) as JsonLine;
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const waitForLine = (match: (l: JsonLine) => boolean, timeoutMs = 10_000): Promise<JsonLine> => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<JsonLine>((resolveLine, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a log line${describeTimeout()}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      });
    });
  };
  return { lines, waitForLine };
}
