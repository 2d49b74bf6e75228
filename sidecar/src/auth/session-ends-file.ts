import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import {
  SESSION_END_ACCOUNT,
  type SessionEnd,
  SessionEndSchema,
  sessionEndProblem,
} from '../../../contract/session-ends.ts';
import { revocationOf } from './local-revocations.ts';

/**
 * Ends the file keeps at most; past it the oldest is dropped (as the sidecar's own list of ends
 * does: `LocalRevocations`).
 */
export const MAX_KEPT_ENDS = 10_000;

/** Lines appended past the live ends before the file is written anew with only those. */
export const SPARE_LINES = 2_000;

/** One session end as the file keeps it. */
export interface KeptEnd {
  readonly end: SessionEnd;
  readonly application: string;
  /** The longest a session of the application lives (ms): the end matters until `before` plus this. */
  readonly lifetimeMs: number;
  /** Whose session it was (sessionEndAccount), when known: reported with it. */
  readonly account?: string;
  /** Handed to the operator or the shared directory (or refused there): not to be reported again. */
  readonly settled: boolean;
}

/** What the file held at start. */
export interface KeptEnds {
  /** The ends still in force, in the order they were made. */
  readonly ends: readonly KeptEnd[];
  /** Lines that were not an end nor a settlement (a line cut short when the process was killed mid-write). */
  readonly skippedLines: number;
}

/**
 * The sidecar's session ends kept in a file (`--session-ends-file`), so that a restart of its
 * container (killed for memory, a failed liveness probe, a defect) neither forgets a sign-out
 * it enforced nor one it had not handed on yet. Each end is a line written before the end is
 * enforced; a line names it settled once it got through. A write is a write(2) on an open file:
 * done once the call returns, whatever then kills the process.
 */
export interface SessionEndsFile {
  /** The ends of the earlier run, read at open. */
  readonly kept: KeptEnds;
  /** Keeps an end (before it is enforced and handed on). */
  add(end: SessionEnd, application: string, lifetimeMs: number, account?: string): void;
  /** Marks an end handed on (or refused): a later start enforces it but does not report it again. */
  settle(end: SessionEnd): void;
  close(): void;
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

interface FieldRule {
  readonly type?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minimum?: number;
}
/** The session end's fields as its schema has them (read, not compiled: the sidecar loads no validator). */
const END_FIELDS = SessionEndSchema.properties as unknown as Readonly<Record<string, FieldRule>>;
const END_PATTERNS = new Map(
  Object.entries(END_FIELDS).flatMap(([key, rule]) =>
    rule.pattern ? [[key, new RegExp(rule.pattern)]] : [],
  ),
);

function fieldFits(key: string, value: unknown, rule: FieldRule): boolean {
  if (rule.type === 'integer') return Number.isSafeInteger(value) && (value as number) >= (rule.minimum ?? 0);
  if (typeof value !== 'string') return false;
  if (value.length < (rule.minLength ?? 0) || value.length > (rule.maxLength ?? Number.POSITIVE_INFINITY))
    return false;
  return END_PATTERNS.get(key)?.test(value) ?? true;
}

/** The end a parsed line holds, checked against the end's schema (the file is the process's own, yet it may be cut short or edited). */
function endOf(value: unknown): SessionEnd | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const o = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(o)) {
    const rule = END_FIELDS[key];
    if (rule === undefined || !fieldFits(key, field, rule)) return undefined;
  }
  if (o.before === undefined || o.reason === undefined) return undefined;
  const end = o as unknown as SessionEnd;
  return sessionEndProblem(end) === undefined ? end : undefined;
}

type Line = { kind: 'end'; kept: Omit<KeptEnd, 'settled'> } | { kind: 'settled'; name: string };

function lineOf(text: string): Line | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.settled === 'string') return { kind: 'settled', name: o.settled };
  const end = endOf(o.end);
  const application = o.application;
  if (end === undefined || typeof application !== 'string' || application.length === 0) return undefined;
  if (application.length > 253 || !isInt(o.lifetimeMs)) return undefined;
  // Beside the end, not in it: a sidecar of an earlier version reads the end and leaves this.
  const account =
    typeof o.account === 'string' && SESSION_END_ACCOUNT.test(o.account) ? o.account : undefined;
  return {
    kind: 'end',
    kept: { end, application, lifetimeMs: o.lifetimeMs, ...(account !== undefined ? { account } : {}) },
  };
}

const endLine = (kept: Omit<KeptEnd, 'settled'>): string =>
  `${JSON.stringify({ end: kept.end, application: kept.application, lifetimeMs: kept.lifetimeMs, account: kept.account })}\n`;
const settledLine = (name: string): string => `${JSON.stringify({ settled: name })}\n`;

/**
 * Opens (or creates) the file: reads the ends an earlier run kept, drops those no session can
 * outlive any more, and writes it anew with the rest. Throws when the file cannot be read or
 * written (the flag names a path the sidecar cannot use: better not to start than to forget).
 * `onError` hears of a later write that failed (a full disk); the end still holds in this run.
 */
export function openSessionEndsFile(
  path: string,
  options: { readonly now?: () => number; readonly onError: (error: Error) => void },
): SessionEndsFile {
  const now = options.now ?? Date.now;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  /** Live ends by revocation name, in the order they were made. */
  const live = new Map<string, KeptEnd>();
  let skippedLines = 0;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const line = lineOf(raw);
    if (line === undefined) skippedLines++;
    else if (line.kind === 'settled') {
      const found = live.get(line.name);
      if (found) live.set(line.name, { ...found, settled: true });
    } else {
      const name = revocationOf(line.kept.end).name;
      live.delete(name); // the latest of the same end counts, in its place
      live.set(name, { ...line.kept, settled: false });
      if (live.size > MAX_KEPT_ENDS) live.delete(live.keys().next().value as string);
    }
  }
  const inForce = (kept: KeptEnd): boolean => kept.end.before * 1000 + kept.lifetimeMs > now();
  for (const [name, kept] of live) if (!inForce(kept)) live.delete(name);
  const kept: KeptEnds = { ends: [...live.values()], skippedLines };

  let fd = -1;
  /** Lines in the file, and how many it may reach before it is written anew. */
  let lines = 0;
  let rewriteAt = 0;
  /** Writes the file anew with the live ends (a new file renamed over the old: never half of one). */
  const rewrite = (): void => {
    for (const [name, end] of live) if (!inForce(end)) live.delete(name);
    const written = [...live.values()].flatMap((end) =>
      end.settled ? [endLine(end), settledLine(revocationOf(end.end).name)] : [endLine(end)],
    );
    const next = `${path}.new`;
    writeFileSync(next, written.join(''), { mode: 0o600 });
    renameSync(next, path);
    if (fd !== -1) closeSync(fd);
    fd = -1; // until the open below succeeds: a write meanwhile fails and is told
    fd = openSync(path, 'a', 0o600);
    lines = written.length;
    rewriteAt = lines + SPARE_LINES;
  };
  rewrite();

  /** Appends a line, or writes the file anew once it has enough spare lines (the line is in `live`). */
  const append = (line: string): void => {
    if (lines >= rewriteAt) {
      try {
        rewrite();
        return;
      } catch (error) {
        // Kept by appending; the next try waits for as many lines again.
        rewriteAt = lines + SPARE_LINES;
        options.onError(error as Error);
      }
    }
    try {
      writeSync(fd, line);
      lines++;
    } catch (error) {
      options.onError(error as Error);
    }
  };
  return {
    kept,
    add(end, application, lifetimeMs, account) {
      const name = revocationOf(end).name;
      const kept = { end, application, lifetimeMs, ...(account !== undefined ? { account } : {}) };
      live.delete(name);
      live.set(name, { ...kept, settled: false });
      if (live.size > MAX_KEPT_ENDS) live.delete(live.keys().next().value as string);
      append(endLine(kept));
    },
    settle(end) {
      const name = revocationOf(end).name;
      const found = live.get(name);
      if (found === undefined || found.settled) return;
      live.set(name, { ...found, settled: true });
      append(settledLine(name));
    },
    close() {
      if (fd !== -1) closeSync(fd);
      fd = -1;
    },
  };
}
