import { isoTime } from '../../lib/iso-time.ts';
import { clientText, type RequestRecord } from './audit-record.ts';
import { type AuditAnswer, type AuditQuery, whereText } from './queries.ts';
import { errorText } from './render-text.ts';
import { sessionRevokeCommand } from './revoke-hint.ts';
import { endDetail, type Session, signInText } from './sessions.ts';

/**
 * A self-contained HTML report: no script, no external resource, and a Content-Security-Policy
 * that forbids both, because every string in it comes from logs an attacker could have written
 * into (URIs, user agents). Everything is escaped; the CSP is the second wall.
 */

const esc = (text: string | number | null | undefined): string =>
  String(text ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');

const iso = isoTime;
const clock = (t: number): string => iso(t).slice(11, 19);
const span = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};

type Tone = 'allow' | 'deny' | 'bypass' | 'error' | 'other';
function tone(r: RequestRecord): Tone {
  if (r.status >= 500 || r.outcome === 'upstream_error' || r.outcome === 'upstream_timeout') return 'error';
  const action = r.decision?.action;
  if (action === 'deny' || r.outcome === 'denied') return 'deny';
  if (action === 'bypass') return 'bypass';
  if (action === 'allow' || action === 'service-auth') return 'allow';
  return 'other';
}

const STYLE = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--allow:#12b76a;--deny:#f04438;--bypass:#98a2b3;--error:#f79009;--other:#7a5af8;--accent:#2e90fa}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
header{background:#101828;color:#fff;padding:24px 32px}header h1{margin:4px 0 6px;font-size:24px}header .sub{color:#d0d5dd}
.stats{display:flex;gap:12px;margin-top:14px;flex-wrap:wrap}.stat{background:#1d2939;border-radius:8px;padding:8px 14px}.stat b{display:block;font-size:20px}
main{padding:24px 32px;max-width:1400px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin-bottom:18px;box-shadow:0 1px 2px rgba(16,24,40,.05)}
.card h2{margin:0 0 4px;font-size:17px}.meta{color:var(--muted)}.meta b{color:var(--ink);font-weight:600}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0}.chip{background:#f2f4f7;border-radius:999px;padding:2px 10px;font-size:12px;max-width:520px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.anomaly{background:#fef3f2;color:#b42318;border:1px solid #fecdca;border-radius:8px;padding:6px 10px;margin:6px 0;font-size:13px}
.end{display:inline-block;border-radius:6px;padding:1px 8px;font-size:12px;font-weight:600;background:#f2f4f7}.end.revoked{background:#fee4e2;color:#b42318}.end.logout{background:#d1fadf;color:#067647}
svg{display:block;width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
.legend{display:flex;gap:14px;color:var(--muted);font-size:12px;margin:6px 0 0}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;margin-top:8px;font-size:13px}th{text-align:left;color:var(--muted);font-weight:500;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid #f2f4f7;padding:5px 8px;vertical-align:top}td.uri{font-family:ui-monospace,Menlo,monospace;word-break:break-all}
td.ua{max-width:280px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:var(--muted)}td.time{white-space:nowrap;font-variant-numeric:tabular-nums}
tr.flag td{background:#fffaeb}.pill{border-radius:6px;padding:1px 7px;font-size:12px;color:#fff}
.allow{background:var(--allow)}.deny{background:var(--deny)}.bypass{background:var(--bypass)}.error{background:var(--error)}.other{background:var(--other)}
rect.allow{fill:var(--allow)}rect.deny{fill:var(--deny)}rect.bypass{fill:var(--bypass)}rect.error{fill:var(--error)}rect.other{fill:var(--other)}
details summary{cursor:pointer;color:var(--accent);margin-top:8px}footer{color:var(--muted);padding:0 32px 32px}
`;

function page(
  title: string,
  subtitle: string,
  stats: [string, string | number][],
  body: readonly string[],
): string[] {
  return [
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><header><div class="sub">Gatehouse audit</div><h1>${esc(title)}</h1><div class="sub">${esc(subtitle)}</div>
<div class="stats">${stats.map(([k, v]) => `<div class="stat"><b>${esc(v)}</b>${esc(k)}</div>`).join('')}</div></header>
<main>`,
    ...body,
    `</main><footer>Generated ${esc(iso(Date.now()))} by gatehouse audit. Times are UTC.</footer></body></html>
`,
  ];
}

const LEGEND = `<div class="legend">${(['allow', 'deny', 'bypass', 'error', 'other'] as const)
  .map((t) => `<span><i class="${t}"></i>${t}</span>`)
  .join(
    '',
  )}<span>▲ anomaly</span><span style="color:#2e90fa">● sign-in</span><span>■ end (red: revoked)</span></div>`;

/** One row of a timeline. */
interface Lane {
  label: string;
  from: number;
  to: number;
  requests: readonly RequestRecord[];
  anomalies: readonly { time: number; detail: string }[];
  /** Sign-in and end of the session, marked when known. */
  login?: number | undefined;
  end?: { readonly time: number; readonly kind: string } | null | undefined;
}

/** One timeline: a lane per row, a tick per request, anomalies marked. */
function timeline(rows: readonly Lane[], from: number, to: number): string {
  const width = 1200;
  const labelWidth = 220;
  const laneHeight = 26;
  const height = rows.length * laneHeight + 28;
  const range = Math.max(1, to - from);
  const x = (t: number) => labelWidth + ((t - from) / range) * (width - labelWidth - 24);
  const ticks: string[] = [];
  for (let i = 0; i <= 6; i++) {
    const t = from + (range * i) / 6;
    ticks.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="0" y2="${height - 20}" stroke="#eaecf0"/><text x="${x(t)}" y="${height - 6}" text-anchor="${i === 0 ? 'start' : i === 6 ? 'end' : 'middle'}">${esc(clock(t))}</text>`,
    );
  }
  const lanes = rows.map((row, i) => {
    const y = i * laneHeight + 6;
    const marks = row.requests.map(
      (r) =>
        `<rect class="${tone(r)}" x="${x(r.start) - 1.5}" y="${y + 3}" width="3" height="14" rx="1"><title>${esc(
          `${clock(r.start)} ${r.method} ${r.uri} → ${r.status} ${r.decision?.action ?? r.outcome ?? ''}${r.error ? ` ${errorText(r)}` : ''} (${clientText(r) ?? '?'})`,
        )}</title></rect>`,
    );
    const flags = row.anomalies.map(
      (a) =>
        `<text x="${x(a.time)}" y="${y + 2}" text-anchor="middle" style="fill:#b42318;font-size:10px">▲<title>${esc(a.detail)}</title></text>`,
    );
    const login =
      row.login === undefined
        ? ''
        : `<circle cx="${x(row.login)}" cy="${y + 10}" r="5" fill="#2e90fa"><title>${esc(`signed in ${clock(row.login)}`)}</title></circle>`;
    const end = row.end
      ? `<rect x="${x(row.end.time) - 5}" y="${y + 5}" width="10" height="10" fill="${row.end.kind === 'revoked' ? '#b42318' : '#344054'}"><title>${esc(`${row.end.kind} ${clock(row.end.time)}`)}</title></rect>`
      : '';
    return `<text x="0" y="${y + 14}">${esc(row.label.length > 34 ? `${row.label.slice(0, 33)}…` : row.label)}</text>
<rect x="${x(row.from)}" y="${y + 8}" width="${Math.max(2, x(row.to) - x(row.from))}" height="4" fill="#d0d5dd" rx="2"/>${login}${marks.join('')}${flags.join('')}${end}`;
  });
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline">${ticks.join('')}${lanes.join('')}</svg>`;
}

/** A session as one lane of a timeline. */
const lane = (s: Session, label: string): Lane => ({
  label,
  from: s.first,
  to: s.last,
  requests: s.requests,
  anomalies: s.anomalies,
  login: s.login?.time,
  end: s.end,
});

function requestRows(
  requests: readonly RequestRecord[],
  flagged: ReadonlySet<string>,
  withUser = false,
): string {
  return `<table><thead><tr><th>Time</th>${withUser ? '<th>User</th><th>Application</th>' : ''}<th>Method</th><th>URI</th><th>Status</th><th>Decision</th><th>Error</th><th>Client IP</th><th>User agent</th></tr></thead><tbody>${requests
    .map(
      (r) =>
        `<tr${flagged.has(r.requestId) ? ' class="flag"' : ''}><td class="time" title="${esc(iso(r.start))}">${esc(withUser ? iso(r.start).slice(0, 23).replace('T', ' ') : iso(r.start).slice(11, 23))}</td>${
          withUser
            ? `<td>${esc(r.identity?.email ?? r.identity?.sub ?? '(anonymous)')}</td><td>${esc(r.app)}</td>`
            : ''
        }<td>${esc(r.method)}</td><td class="uri">${esc(r.uri)}</td><td>${esc(r.status)}</td><td><span class="pill ${tone(r)}">${esc(
          r.decision?.action ?? r.outcome ?? '-',
        )}</span> ${esc(r.decision?.policy ?? '')}</td><td>${r.error ? esc(errorText(r)) : ''}</td><td>${esc(clientText(r))}</td><td class="ua" title="${esc(r.userAgent)}">${esc(r.userAgent)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

/** The command that ends a flagged session everywhere, to copy; nothing for the others. */
function endCommand(s: Session): string {
  const command = sessionRevokeCommand(s);
  return command === undefined ? '' : `<div class="meta">To end it: <code>${esc(command)}</code></div>\n`;
}

function sessionCard(s: Session): string {
  const flagged = new Set(s.anomalies.map((a) => a.requestId));
  const end = s.end
    ? `<span class="end ${esc(s.end.kind)}">${esc(s.end.kind)}</span> at <b>${esc(iso(s.end.time))}</b>${endDetail(s.end) ? ` (${esc(endDetail(s.end))})` : ''}`
    : '<span class="end">no end in these logs</span>';
  return `<section class="card"><h2>${esc(s.email ?? s.sub ?? '(unknown user)')} · ${esc(s.app)} · session ${esc(s.sessionId)}</h2>
<div class="meta">Signed in ${s.login ? `<b>${esc(iso(s.login.time))}</b> from <b>${esc(clientText(s.login) ?? 'an address not logged')}</b> (${esc(signInText(s.login, span))})` : '<b>before these logs</b>'} via <b>${esc(s.provider)}</b> · active ${esc(span(s.last - s.first))} · <b>${s.requests.length}</b> requests · ${end}</div>
<div class="chips">${s.ips.map((ip) => `<span class="chip">IP ${esc(ip)}</span>`).join('')}${s.privateEndpoints.map((e) => `<span class="chip">endpoint ${esc(e)}</span>`).join('')}${s.userAgents
    .map((ua) => `<span class="chip" title="${esc(ua)}">${esc(ua)}</span>`)
    .join('')}</div>
${s.anomalies.map((a) => `<div class="anomaly">▲ <b>${esc(a.kind.replaceAll('_', ' '))}</b> at ${esc(iso(a.time))}: ${esc(a.detail)}</div>`).join('')}
${endCommand(s)}${timeline(
  [lane(s, `${s.requests.length} requests`)],
  s.first,
  Math.max(s.last, s.end?.time ?? 0, s.first + 1000),
)}
<details${s.requests.length <= 200 ? ' open' : ''}><summary>Requests in order (${s.requests.length})</summary>${requestRows(s.requests, flagged)}</details></section>`;
}

function describe(query: AuditQuery): string {
  const range =
    Number.isFinite(query.range.since) || Number.isFinite(query.range.until)
      ? ` · ${Number.isFinite(query.range.since) ? iso(query.range.since) : '…'} to ${Number.isFinite(query.range.until) ? iso(query.range.until) : '…'}`
      : '';
  if (query.kind === 'sessions') return `Sessions of ${query.user ?? query.sub ?? 'every user'}${range}`;
  if (query.kind === 'ip') return `Everyone seen ${whereText(query)}${range}`;
  return `Requests${query.path ? ` to ${query.path}` : ''}${query.app ? ` of ${query.app}` : ''}${query.user ? ` by ${query.user}` : ''}${range}`;
}

/** The answer as one self-contained HTML page, in pieces. */
export function renderHtml(answer: AuditAnswer): string[] {
  const title = describe(answer.query);
  if (answer.kind === 'sessions') {
    const sessions = answer.sessions;
    const requests = sessions.reduce((n, s) => n + s.requests.length, 0);
    const anomalies = sessions.reduce((n, s) => n + s.anomalies.length, 0);
    const apps = new Set(sessions.map((s) => s.app));
    const ips = new Set(sessions.flatMap((s) => s.ips));
    // Loops, not Math.min(...): a spread of many sessions overflowed the call stack.
    let from = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const s of sessions) {
      from = Math.min(from, s.first);
      last = Math.max(last, s.last, s.end?.time ?? 0);
    }
    const to = Math.max(last, from + 1000);
    const overview =
      sessions.length === 0
        ? '<section class="card">No sessions found.</section>'
        : `<section class="card"><h2>All sessions</h2><div class="meta">${esc(iso(from))} → ${esc(iso(to))}</div>${timeline(
            sessions.map((s) => lane(s, `${s.email ?? s.sub ?? '?'} · ${s.app} ${s.sessionId.slice(0, 8)}`)),
            from,
            to,
          )}${LEGEND}</section>`;
    return page(
      title,
      sessions.length > 0 ? `${iso(from)} → ${iso(to)}` : '',
      [
        ['sessions', sessions.length],
        ['requests', requests],
        ['applications', apps.size],
        ['client IPs', ips.size],
        ['anomalies', anomalies],
      ],
      [overview, ...sessions.map(sessionCard)],
    );
  }
  if (answer.kind === 'ip') {
    const rows = answer.users
      .map(
        (u) =>
          `<tr><td>${esc(u.user)}</td><td>${esc(iso(u.first))}</td><td>${esc(iso(u.last))}</td><td>${u.requests}</td><td>${u.logins}</td><td>${esc(u.apps.join(', '))}</td></tr>`,
      )
      .join('');
    return page(
      title,
      '',
      [['users', answer.users.length]],
      [
        `<section class="card"><table><thead><tr><th>User</th><th>First seen</th><th>Last seen</th><th>Requests</th><th>Logins</th><th>Applications</th></tr></thead><tbody>${rows}</tbody></table></section>`,
      ],
    );
  }
  return page(
    title,
    '',
    [['requests', answer.requests.length]],
    [`<section class="card">${requestRows(answer.requests, new Set(), true)}</section>`],
  );
}
