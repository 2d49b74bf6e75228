import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { canonicalizeTarget } from '../../contract/policy/canonical-path.ts';
import { UsageError } from '../../lib/args.ts';
import { parseCommandLine } from '../../lib/command-line.ts';
import { parseDurationMs } from '../../lib/duration.ts';
import { loadConnection } from '../../lib/kube/connection.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { isObjectKey, isObjectName } from '../../lib/kube/kube-object.ts';
import { parseCidr } from '../../lib/net/cidr.ts';
import { normaliseIp } from '../../lib/net/client-ip.ts';
import { isPrivateEndpoint } from '../../lib/net/proxy-protocol-endpoint.ts';
import { inputAtOutput } from '../../lib/output-path.ts';
import { parseRfc3339, RFC3339_HINT } from '../../lib/rfc3339.ts';
import { type AnswerOutput, OutputWriteError, openAnswerOutput, writePieces } from './answer-output.ts';
import { answerQuery, SourceReadError } from './answer-query.ts';
import {
  AnswerTooLargeError,
  createPageCollector,
  createRequestWriter,
  createSessionWriter,
} from './answer-writer.ts';
import { RunFileError } from './external-sort.ts';
import { InputDiagnostics } from './input-diagnostics.ts';
import { clusterSources, expandPaths, fileSources, type LogSource } from './log-sources.ts';
import { MAX_OPEN_STREAMS } from './many-streams.ts';
import type { AuditAnswer, AuditQuery, TimeRange } from './queries.ts';
import { renderHtml } from './render-html.ts';
import { renderJsonLines } from './render-jsonl.ts';
import { renderJson, renderTable } from './render-text.ts';
import type { AnomalySettings } from './sessions.ts';

export const AUDIT_USAGE = `Usage: gatehouse audit <question> [options] [file ...]
       kubectl gatehouse audit <question> --cluster [options]

Rebuilds what happened from Gatehouse log lines (both field profiles, any number of sidecars
and applications, in any order).

Questions:
  sessions --user <email>     a user's sessions: sign-in, provider, IPs, user agents, every
                              request in order with status and decision, anomalies
  sessions --sub <subject>    the same, by subject (for users without an email)
  sessions                    every session
  ip <address|range>          every user seen from an address, or a range (2001:db8:1:2::/64)
  ip <private endpoint>       every user seen through a private endpoint (aws:vpce-0a1b2c...,
                              azure:<LinkID>, gcp:<connection id>); --private-endpoint with an
                              address or range: that address through that endpoint
  requests [--path <path>] [--app <namespace/name>] [--user <email>]
                              every request to a path (a trailing * matches a prefix) or an
                              application

Input: files of JSON lines (.gz decompressed), directories (every file under them), - for
standard input (the default), or --cluster for the log of every injected sidecar, read through
the API server.

Options:
  --since <time>            from this time: RFC 3339 with its offset (2026-11-21T07:00:00Z), a
                            date (its start in UTC), or a duration back from now (24h, 7d)
  --until <time>            up to this time
  --format <f>              table (default), json, jsonl (one request per line with every field,
                            for a SIEM or a spreadsheet) or html (a self-contained timeline page)
  -o, --output <file>       write the answer to a file instead of standard output
  --burst <n>/<duration>    a denial burst is n denied requests within the duration (default 5/60s)
  --cluster                 read the sidecars' logs from the cluster
  -n, --namespace <ns>      with --cluster: only this namespace
  -A, --all-namespaces      with --cluster: every namespace (the default)
  --kubeconfig <file>       kubeconfig for --cluster
  --context <name>          kubeconfig context
  --stats                   print lines read and speed to standard error

Exit status: 0 answered; 1 an input or the answer could not be read or written (nothing is
answered); 2 a usage error (also an HTML page of more than 100,000 requests); 3 no Gatehouse
lines in the input; 4 a partial answer (logs named on standard error could not be read or ended
early: a sidecar's log, a .gz file cut short); 141 the reader of the answer went away.
`;

/** A time argument: RFC 3339, or a duration back from now. */
export function parseTimeArgument(text: string, flag: string, now = Date.now()): number {
  const days = /^([0-9]+)d$/.exec(text);
  const back = days ? Number(days[1]) * 86_400_000 : parseDurationMs(text);
  if (back !== undefined) return now - back;
  // A date alone is that day's start in UTC, as the sidecars' times are.
  const day = /^\d{4}-\d\d-\d\d$/.test(text) ? parseRfc3339(`${text}T00:00:00Z`) : undefined;
  const at = day ?? parseRfc3339(text);
  if (at === undefined)
    throw new UsageError(
      `${flag} must be ${RFC3339_HINT}, a date (its start in UTC) or a duration such as 24h (got ${JSON.stringify(text)})`,
    );
  return at;
}

/**
 * --path as the sidecar logs paths: the canonical form it matches and forwards (percent-escapes
 * of unreserved characters decoded, others upper-cased, `//` merged, dot segments resolved), and
 * characters outside ASCII as their UTF-8 escapes, as a browser sends them. `/%61dmin/*`,
 * `/admin//x` and `/café` would otherwise have matched nothing: the log holds `/admin/...`,
 * `/admin/x` and `/caf%C3%A9`. A trailing `*` keeps matching a prefix.
 */
export function pathFilter(text: string): string {
  const prefix = text.endsWith('*');
  const path = prefix ? text.slice(0, -1) : text;
  if (!path.startsWith('/'))
    throw new UsageError(`--path must begin with / as logged paths do (got ${JSON.stringify(text)})`);
  if (path.includes('?'))
    throw new UsageError('--path is a path without its query string (the query is not compared)');
  let escaped: string;
  try {
    escaped = path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
  } catch {
    throw new UsageError(`--path ${JSON.stringify(text)} is not valid text`);
  }
  const canonical = canonicalizeTarget(escaped);
  if ('error' in canonical)
    throw new UsageError(
      `--path ${JSON.stringify(text)}: ${canonical.detail}; the sidecar refuses such a request, so none reached an application`,
    );
  return prefix ? `${canonical.path}*` : canonical.path;
}

/**
 * An address as the sidecar logs it: IPv4-mapped IPv6 as IPv4, IPv6 in its short lower-case form
 * (what the kernel reports). `2001:DB8:0:0::1` or `::ffff:10.0.0.1` matched nothing.
 */
export function loggedAddress(ip: string): string {
  const address = normaliseIp(ip.toLowerCase());
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** `audit ip`'s argument: an address as the sidecar logs it, or a range as written (lower case). */
function addressOrRange(text: string | undefined): string {
  if (text?.includes('/')) {
    const cidr = parseCidr(text.toLowerCase());
    if (!cidr) throw new UsageError(`audit ip: not an address range (got ${JSON.stringify(text)})`);
    return `${cidr.address}/${cidr.prefix}`;
  }
  if (!text || isIP(text) === 0)
    throw new UsageError(
      'audit ip needs an IPv4 or IPv6 address, a range or a private endpoint (aws:vpce-...)',
    );
  return loggedAddress(text);
}

/** --burst 5/60s */
export function parseBurst(text: string): AnomalySettings {
  const m = /^([0-9]+)\/(.+)$/.exec(text);
  const windowMs = m ? parseDurationMs(m[2] as string) : undefined;
  const count = m ? Number(m[1]) : 0;
  if (!m || windowMs === undefined || count < 2 || windowMs <= 0)
    throw new UsageError('--burst must be <count>/<duration> with a count of 2 or more, e.g. 5/60s');
  return { burstCount: count, burstWindowMs: windowMs };
}

/** On a terminal: bytes read, lines per second and, for plain files, the time left, every 2 s on stderr. */
function showProgress(files: readonly string[]) {
  const diagnostics = new InputDiagnostics();
  const total = files.every((f) => f !== '-' && !f.endsWith('.gz'))
    ? files.reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0)
    : 0;
  const started = performance.now();
  const timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    const rate = diagnostics.bytes / seconds;
    const left =
      total > 0 && rate > 0 ? `, about ${Math.ceil((total - diagnostics.bytes) / rate)} s left` : '';
    process.stderr.write(
      `\rgatehouse audit: ${(diagnostics.bytes / 1048576).toFixed(0)} MiB${total ? ` of ${(total / 1048576).toFixed(0)}` : ''}, ${Math.round(diagnostics.lines / seconds).toLocaleString('en')} lines/s${left}   `,
    );
  }, 2_000);
  timer.unref();
  return {
    diagnostics,
    stop() {
      clearInterval(timer);
      if (performance.now() - started >= 2_000) process.stderr.write('\n');
    },
  };
}

/** What `gatehouse audit` is asked and where it reads from; checked flags. */
export interface AuditFlags {
  readonly query: AuditQuery;
  readonly files: readonly string[];
  readonly anomalies: AnomalySettings;
  readonly format: (typeof FORMATS)[number];
  readonly output?: string;
  /** Read the sidecars' logs through the API server instead of files. */
  readonly cluster?: { readonly kubeconfig?: string; readonly context?: string; readonly namespace?: string };
  readonly stats: boolean;
}

const FORMATS = ['table', 'json', 'jsonl', 'html'] as const;
/** The exit status of an answer from only some of the sidecar logs (the others are named on stderr). */
export const PARTIAL_ANSWER = 4;

function renderAnswer(answer: AuditAnswer, format: (typeof FORMATS)[number]): string[] {
  if (format === 'json') return renderJson(answer);
  if (format === 'jsonl') return renderJsonLines(answer);
  if (format === 'html') return renderHtml(answer);
  return renderTable(answer);
}

/** The question and flags of `gatehouse audit`, checked; no side effects. Throws UsageError. */
export function parseAuditFlags(argv: readonly string[], now = Date.now()): AuditFlags {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    options: {
      user: { type: 'string' },
      sub: { type: 'string' },
      path: { type: 'string' },
      app: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string', default: 'table' },
      output: { type: 'string', short: 'o' },
      burst: { type: 'string', default: '5/60s' },
      cluster: { type: 'boolean', default: false },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      stats: { type: 'boolean', default: false },
      'private-endpoint': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  const [question, ...rest] = positionals;
  const range: TimeRange = {
    since: values.since ? parseTimeArgument(values.since, '--since', now) : Number.NEGATIVE_INFINITY,
    until: values.until ? parseTimeArgument(values.until, '--until', now) : Number.POSITIVE_INFINITY,
  };
  if (range.since > range.until) throw new UsageError('--since is after --until');
  const format = FORMATS.find((f) => f === values.format);
  if (!format) throw new UsageError('--format must be table, json, jsonl or html');
  let query: AuditQuery;
  let files = rest;
  if (question === 'sessions') {
    if (values.user && values.sub) throw new UsageError('give --user or --sub, not both');
    query = {
      kind: 'sessions',
      range,
      ...(values.user ? { user: values.user } : {}),
      ...(values.sub ? { sub: values.sub } : {}),
    };
  } else if (question === 'ip') {
    const [where, ...others] = rest;
    const throughFlag = values['private-endpoint'];
    if (throughFlag !== undefined && !isPrivateEndpoint(throughFlag))
      throw new UsageError(
        `--private-endpoint ${JSON.stringify(throughFlag)} is none: aws:<vpce id>, azure:<LinkID> or gcp:<connection id>`,
      );
    if (where !== undefined && isPrivateEndpoint(where)) {
      if (throughFlag !== undefined) throw new UsageError('give one private endpoint');
      query = { kind: 'ip', ip: null, endpoint: where, range };
    } else query = { kind: 'ip', ip: addressOrRange(where), endpoint: throughFlag ?? null, range };
    files = others;
  } else if (question === 'requests') {
    if (!values.path && !values.app && !values.user)
      throw new UsageError('audit requests needs --path, --app or --user');
    if (values.app && !isObjectKey(values.app) && !isObjectName(values.app))
      throw new UsageError('--app is namespace/name (or a name in standalone logs)');
    query = {
      kind: 'requests',
      range,
      ...(values.path ? { path: pathFilter(values.path) } : {}),
      ...(values.app ? { app: values.app } : {}),
      ...(values.user ? { user: values.user } : {}),
    };
  } else {
    throw new UsageError(
      question ? `unknown question ${JSON.stringify(question)}` : 'which question: sessions, ip or requests?',
    );
  }
  const anomalies = parseBurst(values.burst);
  if (values.cluster && files.length > 0) throw new UsageError('give files or --cluster, not both');
  const namespace = values['all-namespaces'] ? undefined : values.namespace;
  return {
    query,
    files,
    anomalies,
    format,
    ...(values.output ? { output: values.output } : {}),
    ...(values.cluster
      ? {
          cluster: {
            ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
            ...(values.context ? { context: values.context } : {}),
            ...(namespace ? { namespace } : {}),
          },
        }
      : {}),
    stats: values.stats,
  };
}

/**
 * The failure to tell in one line, if it is one the audit knows: an input that cannot be read, a
 * temporary file or the answer that cannot be written. A failed write of the answer comes first:
 * whatever waited on the output failed because of it.
 */
function knownFailure(error: unknown, out: AnswerOutput): Error | undefined {
  const cause = out.failure() ?? error;
  return cause instanceof SourceReadError ||
    cause instanceof RunFileError ||
    cause instanceof OutputWriteError
    ? cause
    : undefined;
}

/** `gatehouse audit`. */
export async function runAuditCommand(argv: string[]): Promise<number> {
  const { query, files: given, anomalies, format, output, cluster, stats } = parseAuditFlags(argv);
  const files = await expandPaths(given);
  const overwritten = output === undefined ? undefined : inputAtOutput(output, files);
  if (overwritten !== undefined)
    throw new UsageError(
      `-o ${output} is the input ${overwritten}: the answer would overwrite the logs it is read from; write it elsewhere`,
    );
  let sources: LogSource[];
  let close: () => Promise<void> = async () => undefined;
  if (cluster) {
    const { namespace, ...connectionOptions } = cluster;
    const connection = loadConnection(connectionOptions);
    close = () => connection.dispatcher.close().catch(() => undefined);
    sources = await clusterSources(new KubeClient(connection), {
      ...(namespace ? { namespace } : {}),
      ...(Number.isFinite(query.range.since)
        ? { sinceTime: new Date(query.range.since).toISOString().replace(/\.\d+Z$/, 'Z') }
        : {}),
    });
    if (stats)
      process.stderr.write(
        `gatehouse audit: ${sources.length} sidecar logs${namespace ? ` in ${namespace}` : ''}\n`,
      );
  } else {
    sources = fileSources(files.length > 0 ? files : ['-'], MAX_OPEN_STREAMS);
  }
  try {
    const started = performance.now();
    // Sessions are written as they are over, requests as they come (bounded memory); the HTML page
    // needs them all first.
    const out = await openAnswerOutput(output);
    const sessionWriter =
      format !== 'html' && query.kind === 'sessions' ? createSessionWriter(out.stream, format) : undefined;
    const requestWriter =
      format !== 'html' && query.kind === 'requests' ? createRequestWriter(out.stream, format) : undefined;
    const writer = sessionWriter ?? requestWriter;
    // The HTML page needs its whole answer first: collected as it comes, up to what a page can show.
    const page = format === 'html' && query.kind !== 'ip' ? createPageCollector() : undefined;
    const progress = process.stderr.isTTY ? showProgress(files) : undefined;
    let asked: Awaited<ReturnType<typeof answerQuery>>;
    try {
      asked = await answerQuery(query, sources, anomalies, {
        // Once a write of the answer failed, the reading stops there.
        ...(sessionWriter ? { onSession: sessionWriter.write } : {}),
        ...(requestWriter ? { onRequest: requestWriter.write } : {}),
        ...(writer ? { pause: () => out.guardedPause(writer.pause) } : {}),
        ...(page ? { onSession: page.onSession, onRequest: page.onRequest, pause: page.pause } : {}),
        ...(progress ? { diagnostics: progress.diagnostics } : {}),
      }).finally(() => progress?.stop());
    } catch (error) {
      if (error instanceof AnswerTooLargeError) {
        process.stderr.write(`gatehouse audit: ${error.message}\n`);
        return 2;
      }
      const failure = knownFailure(error, out);
      if (!failure) throw error;
      process.stderr.write(`gatehouse audit: ${failure.message}\n`);
      return 1;
    }
    const tooLarge = page?.tooLarge();
    if (tooLarge) {
      process.stderr.write(`gatehouse audit: ${tooLarge.message}\n`);
      return 2;
    }
    const { lines, bytes, diagnostics } = asked;
    const answer = page ? page.answer(asked.answer) : asked.answer;
    const seconds = (performance.now() - started) / 1000;
    if (diagnostics.unread.length > 0 && diagnostics.unread.length === sources.length) {
      // Not an answer: "0 sessions" from logs nobody could read must not read as "nothing happened".
      for (const { source, reason } of diagnostics.unreadByName())
        process.stderr.write(`gatehouse audit: ${source}: not read: ${reason}\n`);
      process.stderr.write(
        `gatehouse audit: no sidecar log could be read (${sources.length} of ${sources.length})\n`,
      );
      return 1;
    }
    for (const note of diagnostics.notes()) process.stderr.write(`gatehouse audit: ${note}\n`);
    if (diagnostics.nothingRecognisable()) {
      // "0 sessions" from a wrong input must not read as "the user did nothing".
      process.stderr.write(
        `gatehouse audit: no Gatehouse lines in the input (${diagnostics.summary()}): ${diagnostics.hint()}\n`,
      );
      return 3;
    }
    try {
      if (writer) await out.guard(writer.end());
      else await writePieces(renderAnswer(answer, format), out);
      await out.close();
    } catch (error) {
      // A write that fails (a full disk) leaves an answer cut short: it is not one.
      const failure = knownFailure(error, out);
      if (!failure) throw error;
      process.stderr.write(`gatehouse audit: ${failure.message}\n`);
      return 1;
    }
    if (stats)
      process.stderr.write(
        `gatehouse audit: ${lines} lines (${(bytes / 1048576).toFixed(1)} MiB) in ${seconds.toFixed(3)} s: ${Math.round(lines / Math.max(seconds, 1e-9))} lines/s; ${diagnostics.summary()}\n`,
      );
    const { unread, endedEarly } = diagnostics;
    if (unread.length === 0 && endedEarly.length === 0) return 0;
    process.stderr.write(
      `gatehouse audit: the answer is partial: ${unread.length} of ${sources.length} logs could not be read, ${endedEarly.length} ended early (exit status ${PARTIAL_ANSWER})\n`,
    );
    return PARTIAL_ANSWER;
  } finally {
    await close();
  }
}
