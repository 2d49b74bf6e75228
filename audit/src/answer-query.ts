import { type AuditRecord, parseAuditLine } from './audit-record.ts';
import { classifyLine, InputDiagnostics } from './input-diagnostics.ts';
import { scanLines } from './line-scanner.ts';
import type { LogSource } from './log-sources.ts';
import { type AuditAnswer, type AuditQuery, createQueryRunner, queryNeedles } from './queries.ts';
import { type AnomalySettings, DEFAULT_ANOMALY_SETTINGS } from './sessions.ts';

/** Lines of each source classified in full even under a filter, to tell a wrong input from a quiet user. */
const SAMPLE_LINES = 200;

/** Errors of a gzip stream that ends early: the lines before the cut are still good. */
const TRUNCATED = new Set(['Z_BUF_ERROR', 'Z_DATA_ERROR', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The first chunk of a stream, then the stream again from it. */
async function peek(
  chunks: AsyncIterable<Buffer | string>,
): Promise<{ first: Buffer | undefined; all: AsyncIterable<Buffer | string> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const head = await iterator.next();
  const first = head.done ? undefined : typeof head.value === 'string' ? Buffer.from(head.value) : head.value;
  async function* all(): AsyncGenerator<Buffer | string> {
    if (first) yield first;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { first, all: all() };
}

/** Looks at the first lines of a source: true when one is a line the audit reads; else notes what they are. */
function sample(first: Buffer | undefined, diagnostics: InputDiagnostics): boolean {
  if (!first) return false;
  const lines = first
    .toString('utf8', 0, Math.min(first.length, 1024 * 1024))
    .split('\n', SAMPLE_LINES)
    .filter((line) => line.trim() !== '');
  if (lines.some((line) => parseAuditLine(line) !== undefined)) return true;
  for (const line of lines) diagnostics.sampled(classifyLine(line), line);
  return false;
}

/**
 * Reads every source, feeding the lines the query needs to the runner, and says what it read:
 * lines, recognised records, skipped lines by kind, duplicates dropped, and warnings (a gzip file
 * that ends early gives the answer so far).
 */
export async function answerQuery(
  query: AuditQuery,
  sources: readonly LogSource[],
  anomalies: AnomalySettings = DEFAULT_ANOMALY_SETTINGS,
): Promise<{ answer: AuditAnswer; lines: number; bytes: number; diagnostics: InputDiagnostics }> {
  const runner = createQueryRunner(query, anomalies);
  const needles = queryNeedles(query);
  const diagnostics = new InputDiagnostics();
  let bytes = 0;
  const onLine = (line: string): void => {
    const record: AuditRecord | undefined = parseAuditLine(line);
    if (record) {
      diagnostics.recognised++;
      runner.add(record);
    } else diagnostics.skip(classifyLine(line), line);
  };
  for (const source of sources) {
    const { first, all } = await peek(await source.open());
    if (sample(first, diagnostics)) diagnostics.markGatehouseSeen();
    try {
      const stats = await scanLines(all, onLine, needles);
      diagnostics.lines += stats.lines;
      bytes += stats.bytes;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!TRUNCATED.has(code)) throw error;
      diagnostics.warnings.push(
        `${source.name}: the file ends early (${(error as Error).message}); the lines before the cut were read`,
      );
    }
  }
  diagnostics.duplicates = runner.duplicates;
  if (diagnostics.recognised > 0) diagnostics.markGatehouseSeen();
  return { answer: runner.answer(), lines: diagnostics.lines, bytes, diagnostics };
}
