import { withoutLinePrefix } from './audit-record.ts';
import { SEARCH_RESPONSE_HEAD_BYTES } from './json-array-lines.ts';

/**
 * What the audit made of its input: lines read, recognised, and skipped by kind, and, when
 * nothing was recognisable, what the input looked like instead, so that "0 sessions" from a
 * wrong file is never mistaken for "the user did nothing".
 */

/** What one line is. */
export type LineKind =
  | 'gatehouse' // a request line or an auth event the audit reads
  | 'gatehouse_other' // another Gatehouse line (config_loaded, sidecar_started, ...)
  | 'splunk' // a Splunk export line: the Gatehouse line in _raw (read)
  | 'elasticsearch' // an Elasticsearch hit: the Gatehouse line in _source (read)
  | 'json_array' // a JSON array (an export of many records as one document)
  | 'elasticsearch_response' // a whole search response ({"hits":{"hits":[...]}})
  | 'other_json' // JSON of another program
  | 'not_json' // text: another program's log, a stack trace
  | 'too_long'; // a line longer than any Gatehouse line (line-scanner.ts MAX_LINE_BYTES)

const GATEHOUSE_EVENT = /^[a-z]+(_[a-z]+)*$/;

/** The event a sidecar writes for a proxy it does not trust, as its lines spell its type. */
const UNTRUSTED_PROXY_EVENT = '"forwarded_for_untrusted"';
/** Proxies told about at most (a sidecar names 16 per list of trusted proxies). */
const MAX_UNTRUSTED_PROXIES = 64;

/** How a search response begins: its scroll or point-in-time id, or `took`. */
const SEARCH_RESPONSE_START = /^\{\s*"(?:_scroll_id|pit_id|took)"\s*:/;

/** Classifies a line that the audit could not read as a record (cheap: only such lines). */
export function classifyLine(line: string): LineKind {
  const start = withoutLinePrefix(line.trimStart());
  if (start.startsWith('[')) return 'json_array';
  if (!start.startsWith('{')) return 'not_json';
  let value: unknown;
  try {
    value = JSON.parse(start);
  } catch {
    if (start.endsWith(',') || start.endsWith('[')) return 'json_array';
    // A search response cut before its hits (read in part: a scroll id of megabytes comes first).
    return SEARCH_RESPONSE_START.test(start) ? 'elasticsearch_response' : 'not_json';
  }
  if (typeof value !== 'object' || value === null) return 'other_json';
  const o = value as Record<string, unknown>;
  if (typeof o.hits === 'object' && o.hits !== null) return 'elasticsearch_response';
  if (typeof o.type === 'string' && GATEHOUSE_EVENT.test(o.type) && typeof o.time === 'string')
    return 'gatehouse_other';
  return 'other_json';
}

const HINTS: Partial<Record<LineKind, string>> = {
  json_array:
    'the input holds JSON arrays whose elements are not objects (a JSON array of objects is read); give the audit one JSON object per line',
  elasticsearch_response: `the input is a search response whose hits begin past its first ${SEARCH_RESPONSE_HEAD_BYTES / 1024 / 1024} MiB (a response is read when they begin within it); pipe it through jq -c ".hits.hits[]._source"`,
  other_json: 'the lines are JSON of another program, not Gatehouse request lines or auth events',
  not_json: "the lines are not JSON: is this the sidecar container's log (kubectl logs <pod> -c gatehouse)?",
  gatehouse_other: 'only Gatehouse status lines, no request lines or auth events',
  too_long: 'the lines are longer than 1 MiB, which no Gatehouse line is',
};

export class InputDiagnostics {
  lines = 0;
  bytes = 0;
  recognised = 0;
  duplicates = 0;
  /** Records much older than records read before them (input not in time order). */
  late = 0;
  /** Sources sorted on temporary files (in how many runs): out of time order, or unchecked (stdin). */
  readonly sorted: { source: string; runs: number; checked: boolean }[] = [];
  readonly skipped = new Map<LineKind, number>();
  /** What the first lines of sources without a Gatehouse line were (for the hint). */
  readonly sampledKinds = new Map<LineKind, number>();
  /** Field names of the first foreign JSON line seen, to say what it was. */
  foreignFields: string[] | null = null;
  readonly warnings: string[] = [];
  /** Optional sources that could not be read (a pod's log), and why. */
  readonly unread: { source: string; reason: string }[] = [];
  /** Sources that ended early (a gzip file cut short, a pod log failing while read): the lines before were read. */
  readonly endedEarly: string[] = [];
  /**
   * Proxies a sidecar did not trust (its forwarded_for_untrusted lines read), by `app peer`: the
   * requests from them carry the proxy's address as clientIp, not their clients'.
   */
  readonly untrustedProxies = new Map<string, { app: string; peerIp: string; time: string }>();
  #gatehouseSeen = false;

  /** Some line of the input (read in full, or in a source's sample) was a Gatehouse line. */
  markGatehouseSeen(): void {
    this.#gatehouseSeen = true;
  }

  skip(kind: LineKind, line: string): void {
    this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + 1);
    this.#noteFields(kind, line);
    if (kind === 'gatehouse_other' && line.includes(UNTRUSTED_PROXY_EVENT)) this.#noteUntrustedProxy(line);
  }

  #noteUntrustedProxy(line: string): void {
    if (this.untrustedProxies.size >= MAX_UNTRUSTED_PROXIES) return;
    const o = JSON.parse(withoutLinePrefix(line.trimStart())) as Record<string, unknown>;
    if (o.type !== 'forwarded_for_untrusted' || typeof o.peerIp !== 'string') return;
    const app = typeof o.app === 'string' ? o.app : '(unknown application)';
    const key = `${app} ${o.peerIp}`;
    if (!this.untrustedProxies.has(key))
      this.untrustedProxies.set(key, { app, peerIp: o.peerIp, time: String(o.time) });
  }

  /** Lines skipped unread (too long to be a Gatehouse line). */
  skipUnread(kind: LineKind, count: number): void {
    if (count > 0) this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + count);
  }

  sampled(kind: LineKind, line: string): void {
    this.sampledKinds.set(kind, (this.sampledKinds.get(kind) ?? 0) + 1);
    this.#noteFields(kind, line);
  }

  #noteFields(kind: LineKind, line: string): void {
    if (kind === 'other_json' && this.foreignFields === null) {
      try {
        this.foreignFields = Object.keys(JSON.parse(line) as object).slice(0, 6);
      } catch {
        this.foreignFields = [];
      }
    }
  }

  /** True when lines were read but none of them could be a Gatehouse line the audit uses. */
  nothingRecognisable(): boolean {
    return this.lines > 0 && this.recognised === 0 && !this.#gatehouseSeen;
  }

  /** The most common foreign kind, and what to do about it. */
  hint(): string {
    const seen = new Map(this.sampledKinds);
    for (const [kind, n] of this.skipped) seen.set(kind, (seen.get(kind) ?? 0) + n);
    // A document (an array, a search response) spans many lines that are not JSON on their own: it wins.
    const documentKind = (['elasticsearch_response', 'json_array'] as const).find((k) => seen.has(k));
    const [kind] = documentKind ? [documentKind] : ([...seen].sort((a, b) => b[1] - a[1])[0] ?? ['not_json']);
    const fields =
      kind === 'other_json' && this.foreignFields?.length
        ? ` (fields: ${this.foreignFields.join(', ')})`
        : '';
    return `${HINTS[kind] ?? 'the input holds no Gatehouse lines'}${fields}`;
  }

  /** The sources not read, by name (they fail in whatever order their servers answer). */
  unreadByName(): { source: string; reason: string }[] {
    return [...this.unread].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  }

  /**
   * What the analyst is told before the answer, a line each: warnings, sources not read, input
   * sorted first, duplicates dropped.
   */
  notes(): string[] {
    const notes = this.warnings.map((warning) => `warning: ${warning}`);
    for (const { source, reason } of this.unreadByName())
      notes.push(`warning: ${source}: not read: ${reason}`);
    for (const { source, runs, checked } of this.sorted) {
      if (runs === 0) continue; // nothing in it to sort: what it held is in the summary
      const why = checked
        ? "is not in time order (several sidecars' logs in one file, or a log store's export?)"
        : 'cannot be read twice to check its time order';
      notes.push(`${source} ${why}: sorted on temporary files in ${runs} run${runs === 1 ? '' : 's'}`);
    }
    for (const { app, peerIp, time } of this.untrustedProxies.values())
      notes.push(
        `warning: ${app}: ${peerIp} is a proxy its sidecar did not trust (forwarded_for_untrusted, ${time}): requests through it carry ${peerIp} as their clientIp, not their clients' addresses`,
      );
    if (this.duplicates > 0)
      notes.push(
        `${this.duplicates} duplicate lines dropped (a request id or event read before: the same file given twice?)`,
      );
    return notes;
  }

  /** One line for stderr: what was read and what was skipped. */
  summary(): string {
    const skipped = [...this.skipped].map(([kind, n]) => `${n} ${kind.replaceAll('_', ' ')}`).join(', ');
    return `${this.lines} lines read, ${this.recognised} recognised${skipped ? `, skipped: ${skipped}` : ''}${this.duplicates ? `, ${this.duplicates} duplicates dropped` : ''}`;
  }
}
