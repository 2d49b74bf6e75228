import { isoTime } from '../../lib/iso-time.ts';
import { clientText, type RequestRecord } from './audit-record.ts';
import { type AuditAnswer, type UserAtAddress, whereText } from './queries.ts';
import { sessionRevokeCommand } from './revoke-hint.ts';
import { endDetail, type Session, signInText } from './sessions.ts';

const iso = isoTime;
const span = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/** Control characters would rewrite the analyst's terminal: shown escaped instead. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const safe = (text: string | null | undefined): string =>
  (text ?? '-').replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Column widths: each the widest of its header and cells, at most its maximum (200 without one). */
function tableWidths(
  headers: readonly string[],
  rows: readonly string[][],
  maxWidths: readonly number[],
): number[] {
  // A loop, not Math.max(...): a spread of a large answer's rows overflowed the call stack.
  const widths = headers.map((h) => h.length);
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return widths.map((width, i) => Math.min(maxWidths[i] ?? 200, width));
}

/**
 * One line of a table: cells padded to the widths, and cut (…) past `cutAt` (the widths unless
 * given: a longer cell then keeps its place at the cost of the columns after it lining up).
 */
function tableLine(cells: readonly string[], widths: readonly number[], cutAt = widths): string {
  const cut = (text: string, i: number) => {
    const limit = cutAt[i] ?? 0;
    return text.length > limit ? `${text.slice(0, limit - 1)}…` : text.padEnd(widths[i] ?? 0);
  };
  return cells
    .map((c, i) => cut(c, i))
    .join('  ')
    .trimEnd();
}

function table(headers: string[], rows: string[][], maxWidths: number[] = []): string {
  const widths = tableWidths(headers, rows, maxWidths);
  return [tableLine(headers, widths), ...rows.map((row) => tableLine(row, widths))].join('\n');
}

/** A failed request's stable error code, with its cause where the code has several (`-` when none). */
export function errorText(r: Pick<RequestRecord, 'error' | 'errorCause'>): string {
  if (!r.error) return '-';
  return r.errorCause ? `${r.error} (${r.errorCause})` : r.error;
}

function decisionText(r: RequestRecord): string {
  if (!r.decision) return r.outcome ?? '-';
  return `${r.decision.action ?? '?'}${r.decision.policy ? ` ${r.decision.policy}` : ''}`;
}

export function sessionText(s: Session): string {
  const head = [
    `Session ${s.sessionId}  ${s.app}  ${safe(s.email ?? s.sub)}  via ${safe(s.provider)}`,
    `  signed in  ${s.login ? `${iso(s.login.time)} from ${safe(clientText(s.login))}` : '(no login event in the logs read)'}`,
    ...(s.login ? [`  how        ${safe(signInText(s.login, span))}`] : []),
    `  activity   ${iso(s.first)} → ${iso(s.last)} (${span(s.last - s.first)}), ${s.requests.length} request${s.requests.length === 1 ? '' : 's'}`,
    `  ended      ${s.end ? `${s.end.kind} at ${iso(s.end.time)}${endDetail(s.end) ? ` (${safe(endDetail(s.end))})` : ''}` : '(not in the logs read)'}`,
    `  IPs        ${s.ips.map(safe).join(', ') || '-'}`,
    `  agents     ${s.userAgents.map(safe).join(' | ') || '-'}`,
  ];
  if (s.privateEndpoints.length > 0) head.push(`  endpoints  ${s.privateEndpoints.map(safe).join(', ')}`);
  for (const a of s.anomalies)
    head.push(`  ! ${a.kind.replaceAll('_', ' ')} at ${iso(a.time)}: ${safe(a.detail)}`);
  const command = sessionRevokeCommand(s);
  if (command !== undefined) head.push(`  to end it  ${safe(command)}`);
  const flagged = new Set(s.anomalies.map((a) => a.requestId));
  const rows = s.requests.map((r) => [
    flagged.has(r.requestId) ? '!' : '',
    iso(r.start).replace('T', ' ').slice(0, 23),
    r.method,
    safe(r.uri),
    String(r.status),
    decisionText(r),
    safe(errorText(r)),
    safe(clientText(r)),
    safe(r.userAgent),
  ]);
  return `${head.join('\n')}\n\n${table(
    ['', 'TIME (UTC)', 'METHOD', 'URI', 'STATUS', 'DECISION', 'ERROR', 'CLIENT IP', 'USER AGENT'],
    rows,
    [1, 23, 7, 60, 6, 28, 44, 39, 40],
  )
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}

function usersText(users: readonly UserAtAddress[]): string {
  return table(
    ['USER', 'FIRST SEEN', 'LAST SEEN', 'REQUESTS', 'LOGINS', 'APPLICATIONS'],
    users.map((u) => [
      safe(u.user),
      iso(u.first),
      iso(u.last),
      String(u.requests),
      String(u.logins),
      u.apps.join(', '),
    ]),
  );
}

const REQUEST_HEADERS = ['TIME', 'APP', 'USER', 'METHOD', 'URI', 'STATUS', 'DECISION', 'ERROR', 'CLIENT IP'];
const REQUEST_WIDTHS = [24, 32, 32, 7, 60, 6, 28, 44, 39];

const requestCells = (r: RequestRecord): string[] => [
  iso(r.start),
  r.app,
  safe(r.identity?.email ?? r.identity?.sub ?? '(anonymous)'),
  r.method,
  safe(r.uri),
  String(r.status),
  decisionText(r),
  safe(errorText(r)),
  safe(clientText(r)),
];

function requestsText(requests: readonly RequestRecord[]): string {
  return table(REQUEST_HEADERS, requests.map(requestCells), REQUEST_WIDTHS);
}

/**
 * The requests table written as requests come: the columns are sized from the first `sample`
 * rows (all of them for a smaller answer, which then reads as requestsText gives it). A later
 * cell longer than its column is cut only where requestsText would cut it (a client address is
 * never cut short): its row then does not line up.
 */
export function requestTableWriter(write: (text: string) => void, sample = 1_000) {
  let widths: number[] | undefined;
  const held: string[][] = [];
  const start = (): number[] => {
    const sized = tableWidths(REQUEST_HEADERS, held, REQUEST_WIDTHS);
    write(`${tableLine(REQUEST_HEADERS, sized)}\n`);
    for (const row of held.splice(0)) write(`${tableLine(row, sized)}\n`);
    return sized;
  };
  return {
    row(r: RequestRecord): void {
      if (widths) write(`${tableLine(requestCells(r), widths, REQUEST_WIDTHS)}\n`);
      else {
        held.push(requestCells(r));
        if (held.length >= sample) widths = start();
      }
    },
    end(): void {
      if (widths) return;
      if (held.length === 0) write('No requests found.\n');
      else widths = start();
    },
  };
}

/** The answer as a readable terminal report, in pieces (an answer can be larger than one string may be). */
export function renderTable(answer: AuditAnswer): string[] {
  if (answer.kind === 'sessions') {
    if (answer.sessions.length === 0) return ['No sessions found.\n'];
    const anomalies = answer.sessions.reduce((n, s) => n + s.anomalies.length, 0);
    return [
      `${answer.sessions.length} session${answer.sessions.length === 1 ? '' : 's'}, ${anomalies} anomal${anomalies === 1 ? 'y' : 'ies'}\n`,
      ...answer.sessions.map((s) => `\n${sessionText(s)}`),
    ];
  }
  if (answer.kind === 'ip')
    return [
      answer.users.length === 0
        ? `No one seen ${answer.query.kind === 'ip' ? whereText(answer.query) : 'there'}.\n`
        : `${usersText(answer.users)}\n`,
    ];
  return [answer.requests.length === 0 ? 'No requests found.\n' : `${requestsText(answer.requests)}\n`];
}

export const requestJson = (r: RequestRecord) => ({
  ...r,
  kind: undefined,
  start: iso(r.start),
  end: iso(r.end),
});

/** A JSON array, one element per piece. */
function jsonArray<T>(items: readonly T[], map: (item: T) => unknown): string[] {
  if (items.length === 0) return ['[]\n'];
  return items.map(
    (item, i) =>
      `${i === 0 ? '[\n' : ''}${JSON.stringify(map(item))}${i === items.length - 1 ? '\n]\n' : ',\n'}`,
  );
}

/** One session as JSON, times in RFC 3339. */
export function sessionJson(s: Session): unknown {
  return {
    ...s,
    first: iso(s.first),
    last: iso(s.last),
    login: s.login
      ? {
          ...s.login,
          time: iso(s.login.time),
          signIn: {
            ...s.login.signIn,
            authenticatedAt:
              s.login.signIn.authenticatedAt === null ? null : iso(s.login.signIn.authenticatedAt),
          },
        }
      : null,
    end: s.end ? { ...s.end, time: iso(s.end.time) } : null,
    requests: s.requests.map(requestJson),
    anomalies: s.anomalies.map((a) => ({ ...a, time: iso(a.time) })),
  };
}

/** The answer as JSON (an array), times in RFC 3339, in pieces. */
export function renderJson(answer: AuditAnswer): string[] {
  if (answer.kind === 'sessions') return jsonArray(answer.sessions, sessionJson);
  if (answer.kind === 'ip')
    return jsonArray(answer.users, (u) => ({ ...u, first: iso(u.first), last: iso(u.last) }));
  return jsonArray(answer.requests, requestJson);
}
