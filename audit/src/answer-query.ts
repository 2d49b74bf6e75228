import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileErrorText } from '../../lib/file-error-text.ts';
import { type AuditRecord, parseAuditLine, type RequestRecord } from './audit-record.ts';
import { createCriJoiner } from './cri-framing.ts';
import { readRun, writeSortedRuns } from './external-sort.ts';
import { classifyLine, InputDiagnostics } from './input-diagnostics.ts';
import { MAX_LINE_BYTES } from './line-scanner.ts';
import type { LogSource } from './log-sources.ts';
import { mergeManyRecords } from './many-streams.ts';
import { lineTime, recordBatches } from './merged-records.ts';
import { type AuditAnswer, type AuditQuery, createQueryRunner, queryNeedles } from './queries.ts';
import { type AnomalySettings, byFirst, DEFAULT_ANOMALY_SETTINGS, type Session } from './sessions.ts';
import { inTimeOrder } from './time-order.ts';

/** Lines of each source classified in full even under a filter, to tell a wrong input from a quiet user. */
const SAMPLE_LINES = 200;
/** How often (in records) closed sessions are taken out and old line identities forgotten. */
const SWEEP_EVERY = 4096;
/** A duplicate line (a file given twice) arrives within this much log time of its original. */
const DEDUP_WINDOW_MS = 60 * 60_000;
/** Closed sessions held back to keep the output in order of first activity, at most. */
const MAX_PENDING = 1_000;
/** A step back in time this small is the jitter of one sidecar's writes, not disorder. */
const ORDER_TOLERANCE_MS = 1_000;
/** A session silent this long in log time is over: no Gatehouse session outlives 12 h by default. */
export const DEFAULT_SESSION_GAP_MS = 12 * 3_600_000;

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
  const lines: string[] = [];
  const joiner = createCriJoiner(
    (line) => lines.push(line),
    MAX_LINE_BYTES,
    () => undefined,
  );
  for (const line of first
    .toString('utf8', 0, Math.min(first.length, MAX_LINE_BYTES))
    .split('\n', SAMPLE_LINES))
    if (line.trim() !== '') joiner.line(line);
  joiner.end();
  if (lines.some((line) => parseAuditLine(line) !== undefined)) return true;
  for (const line of lines) diagnostics.sampled(classifyLine(line), line);
  return false;
}

export interface AnswerOptions {
  /**
   * Sessions queries: called with each session as soon as it is over in log time (silent for
   * the session gap), in order of first activity; the answer then holds none. Memory stays
   * bounded by the sessions open at one moment, whatever the size of the input.
   */
  readonly onSession?: (session: Session) => void;
  /**
   * Requests queries: called with each request in the order of their start, once log time is past
   * its start by the session gap (a request's line is written at its end); the answer then holds
   * none. Memory holds the requests of that gap, whatever the size of the input.
   */
  readonly onRequest?: (request: RequestRecord) => void;
  /**
   * A promise while whoever takes the sessions is behind (its output buffer is full): reading
   * waits for it, so the answer does not pile up in memory ahead of a slow reader.
   */
  readonly pause?: () => Promise<unknown> | undefined;
  /** Log-time silence after which a session is over (default 12 h, the default absolute lifetime). */
  readonly sessionGapMs?: number;
  /** Where to count what is read, for a caller that shows progress while it runs. */
  readonly diagnostics?: InputDiagnostics;
  /**
   * Where input out of time order is sorted, and more sources than may be open at once are merged
   * (default: the system's temporary directory).
   */
  readonly tempDir?: string;
  /** Sources open at once, at most (default MAX_OPEN_STREAMS). */
  readonly maxOpenStreams?: number;
}

/** True when a source must be sorted before its sessions can close as they go. */
async function needsSort(source: LogSource): Promise<boolean> {
  if (source.order === 'written') return false;
  if (source.order === 'unknown') return true;
  try {
    return !(await inTimeOrder(await source.open(), ORDER_TOLERANCE_MS));
  } catch (error) {
    throw new SourceReadError(source.name, error);
  }
}

/** A source that cannot be read, named (an error of a read says nothing of the file it read). */
export class SourceReadError extends Error {
  readonly source: string;
  constructor(source: string, cause: unknown) {
    const message = fileErrorText(cause);
    super(message.includes(source) ? message : `${source}: ${message}`, { cause });
    this.name = 'SourceReadError';
    this.source = source;
  }
}

/**
 * The records of a source, which is opened (and its first lines sampled) when first read. An
 * optional source that cannot be opened, or fails while read, ends here, noted in diagnostics;
 * any other fails as a SourceReadError.
 */
async function* sourceRecords(
  source: LogSource,
  needles: ReturnType<typeof queryNeedles>,
  diagnostics: InputDiagnostics,
): AsyncGenerator<AuditRecord[]> {
  let opened: Awaited<ReturnType<typeof peek>>;
  try {
    opened = await peek(await source.open());
  } catch (error) {
    if (!source.optional) throw new SourceReadError(source.name, error);
    diagnostics.unread.push({ source: source.name, reason: (error as Error).message });
    return;
  }
  if (sample(opened.first, diagnostics)) diagnostics.markGatehouseSeen();
  try {
    yield* recordBatches(source, opened.all, needles, diagnostics);
  } catch (error) {
    if (!source.optional) throw new SourceReadError(source.name, error);
    diagnostics.endedEarly.push(source.name);
    diagnostics.warnings.push(
      `${source.name}: the log ends early (${(error as Error).message}); the lines before the cut were read`,
    );
  }
}

/**
 * The record streams of every source, each in the order its lines were written and opened only
 * when first read: a source not in that order (when `sort` asks for exact order) is read once to
 * see, then sorted on temporary files into runs, each a stream. tempDir() makes the directory of
 * temporary files on first use; close() removes it.
 */
async function openRecordStreams(
  sources: readonly LogSource[],
  needles: ReturnType<typeof queryNeedles>,
  diagnostics: InputDiagnostics,
  options: { readonly sort: boolean; readonly tempDir?: string },
): Promise<{
  streams: AsyncIterable<AuditRecord[]>[];
  tempDir(): Promise<string>;
  close(): Promise<void>;
}> {
  const streams: AsyncIterable<AuditRecord[]>[] = [];
  let made: Promise<string> | undefined;
  const tempDir = (): Promise<string> =>
    (made ??= mkdtemp(join(options.tempDir ?? tmpdir(), 'gatehouse-audit-')));
  const close = async (): Promise<void> => {
    const dir = await made?.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const source of sources) {
      const batches = sourceRecords(source, needles, diagnostics);
      if (!(options.sort && (await needsSort(source)))) {
        streams.push(batches);
        continue;
      }
      const runs = await writeSortedRuns(batches, await tempDir(), `run${streams.length}`);
      diagnostics.sorted.push({ source: source.name, runs: runs.length, checked: source.order === 'check' });
      streams.push(...runs.map(readRun));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { streams, tempDir, close };
}

/**
 * Reads every source, merged by log time, feeding the records the query needs to the runner, and
 * says what it read: lines, recognised records, skipped lines by kind, duplicates dropped,
 * records out of time order, and warnings (a gzip file that ends early gives the answer so far).
 */
export async function answerQuery(
  query: AuditQuery,
  sources: readonly LogSource[],
  anomalies: AnomalySettings = DEFAULT_ANOMALY_SETTINGS,
  options: AnswerOptions = {},
): Promise<{ answer: AuditAnswer; lines: number; bytes: number; diagnostics: InputDiagnostics }> {
  const runner = createQueryRunner(query, anomalies);
  const diagnostics = options.diagnostics ?? new InputDiagnostics();
  const gapMs = options.sessionGapMs ?? DEFAULT_SESSION_GAP_MS;
  const streaming = query.kind === 'sessions' ? options.onSession : undefined;
  // One user's sessions are few: they are kept to the end, so input out of time order (files of
  // several sidecars concatenated) cannot split them. Every session of everyone is what must stream.
  const closeEarly = streaming !== undefined && query.kind === 'sessions' && !query.user && !query.sub;
  // Requests given out as they come need their input in time order too.
  const requestsOut = query.kind === 'requests' ? options.onRequest : undefined;
  const input = await openRecordStreams(sources, queryNeedles(query), diagnostics, {
    sort: closeEarly || requestsOut !== undefined,
    ...(options.tempDir ? { tempDir: options.tempDir } : {}),
  });
  try {
    return await mergeAnswer(input.streams, input.tempDir);
  } finally {
    await input.close();
  }

  async function mergeAnswer(
    streams: readonly AsyncIterable<AuditRecord[]>[],
    runDir: () => Promise<string>,
  ) {
    // Closed sessions wait here until no open session began before them, so output stays in order
    // (up to MAX_PENDING of them).
    const pending: Session[] = [];
    const flush = (upTo: number): void => {
      pending.sort(byFirst);
      let n = 0;
      while (n < pending.length && (pending[n] as Session).first <= upTo)
        streaming?.(pending[n++] as Session);
      pending.splice(0, n);
    };
    let watermark = Number.NEGATIVE_INFINITY;
    let fed = 0;
    const onRecord = (record: AuditRecord): void => {
      const time = lineTime(record);
      if (time < watermark - gapMs) diagnostics.late++;
      else if (time > watermark) watermark = time;
      runner.add(record);
      if (++fed % SWEEP_EVERY !== 0) return;
      runner.forgetBefore(watermark, DEDUP_WINDOW_MS);
      // As long as the builder keeps revocations for the sessions still open.
      runner.forgetEndsBefore(watermark - 2 * gapMs);
      if (requestsOut)
        for (const request of runner.releaseRequestsBefore(watermark - gapMs)) requestsOut(request);
      if (!closeEarly) return;
      pending.push(...runner.closeIdle(watermark, gapMs));
      // A session open for long would hold every later one back: past a bound, order gives way to memory.
      if (pending.length > 0)
        flush(pending.length > MAX_PENDING ? Number.POSITIVE_INFINITY : runner.earliestOpen());
    };
    await mergeManyRecords(streams, onRecord, {
      runDir,
      ...(options.pause ? { pause: options.pause } : {}),
      ...(options.maxOpenStreams ? { maxOpen: options.maxOpenStreams } : {}),
    });
    diagnostics.duplicates = runner.duplicates;
    if (diagnostics.recognised > 0) diagnostics.markGatehouseSeen();
    if (diagnostics.late > 0 && (closeEarly || requestsOut))
      diagnostics.warnings.push(
        `${diagnostics.late} lines were more than ${Math.round(gapMs / 3_600_000)} h older than lines read before them: the input is not in time order (a file of several sidecars concatenated, or sorted by another field), and ${closeEarly ? 'their sessions may be split' : 'their requests may be out of order'}`,
      );
    const answer = runner.answer();
    if (requestsOut && answer.kind === 'requests') {
      for (const request of answer.requests) requestsOut(request);
      return {
        answer: { ...answer, requests: [] },
        lines: diagnostics.lines,
        bytes: diagnostics.bytes,
        diagnostics,
      };
    }
    if (streaming && answer.kind === 'sessions') {
      pending.push(...answer.sessions);
      flush(Number.POSITIVE_INFINITY);
      return {
        answer: { ...answer, sessions: [] },
        lines: diagnostics.lines,
        bytes: diagnostics.bytes,
        diagnostics,
      };
    }
    return { answer, lines: diagnostics.lines, bytes: diagnostics.bytes, diagnostics };
  }
}
