import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findAnomalies } from '../../audit/src/anomalies.ts';
import { parseBurst, parseTimeArgument } from '../../audit/src/audit-command.ts';
import { parseAuditLine, type RequestRecord, toAuditRecord } from '../../audit/src/audit-record.ts';
import { type Needles, scanLines } from '../../audit/src/line-scanner.ts';
import { createQueryRunner, pathMatches, queryNeedles } from '../../audit/src/queries.ts';
import { renderHtml } from '../../audit/src/render-html.ts';
import { renderJson, renderTable, requestTableWriter, sessionText } from '../../audit/src/render-text.ts';
import { type Session, SessionBuilder } from '../../audit/src/sessions.ts';
import { UsageError } from '../../lib/args.ts';
import { authRecord, requestRecord } from '../helpers/audit-records.ts';

const native = {
  type: 'request',
  time: '2026-11-20T09:00:00.120Z',
  requestId: 'r1',
  app: 'corp/wiki',
  host: 'wiki.example.com',
  method: 'GET',
  uri: '/pages/1?x=1',
  status: 200,
  outcome: 'served',
  start: '2026-11-20T09:00:00.000Z',
  end: '2026-11-20T09:00:00.120Z',
  clientIp: '192.0.2.1',
  userAgent: 'Firefox',
  identity: { kind: 'user', sub: 's', email: 'alice@example.com', idp: 'corp' },
  sessionId: 'sid',
  decision: { action: 'allow', policy: 'corp/staff', rule: 'include', reason: 'email_domain_match' },
};
const cloudflare = {
  ClientIP: '192.0.2.1',
  ClientRequestHost: 'wiki.example.com',
  ClientRequestMethod: 'GET',
  ClientRequestURI: '/pages/1?x=1',
  ClientRequestUserAgent: 'Firefox',
  EdgeStartTimestamp: '2026-11-20T09:00:00.000Z',
  EdgeEndTimestamp: '2026-11-20T09:00:00.120Z',
  EdgeResponseStatus: 200,
  RayID: 'r1',
  GatehouseType: 'request',
  GatehouseApp: 'corp/wiki',
  GatehouseOutcome: 'served',
  GatehouseIdentity: { kind: 'user', sub: 's', email: 'alice@example.com', idp: 'corp' },
  GatehouseSessionID: 'sid',
  GatehouseDecision: { action: 'allow', policy: 'corp/staff', rule: 'include', reason: 'email_domain_match' },
};

describe('audit records', () => {
  it('reads both field profiles into the same record', () => {
    const a = parseAuditLine(JSON.stringify(native));
    const b = parseAuditLine(JSON.stringify(cloudflare));
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      kind: 'request',
      start: Date.parse(native.start),
      sessionId: 'sid',
      status: 200,
    });
  });

  it('reads the private endpoint of both profiles into the same record', () => {
    const a = parseAuditLine(JSON.stringify({ ...native, privateEndpoint: 'aws:vpce-0a1' }));
    const b = parseAuditLine(JSON.stringify({ ...cloudflare, GatehousePrivateEndpoint: 'aws:vpce-0a1' }));
    expect(a).toEqual(b);
    expect(a).toMatchObject({ privateEndpoint: 'aws:vpce-0a1' });
    expect(parseAuditLine(JSON.stringify(native))).toMatchObject({ privateEndpoint: null });
  });

  it.each([
    ['a CRI log file line', `2026-11-20T09:00:00.130000000Z stdout F ${JSON.stringify(native)}`, 'request'],
    [
      'a login event',
      JSON.stringify({
        type: 'login_succeeded',
        time: native.time,
        app: 'corp/wiki',
        sessionId: 'sid',
        email: 'a@b.c',
      }),
      'auth',
    ],
    [
      'a revocation',
      JSON.stringify({
        type: 'revocation_applied',
        time: native.time,
        app: 'corp/wiki',
        user: 'a@b.c',
        revokedBefore: native.time,
      }),
      'auth',
    ],
  ])('reads %s', (_what, line, kind) => {
    expect(parseAuditLine(line)?.kind).toBe(kind);
  });

  it.each([
    ['not JSON', '{"type":"request",'],
    ['plain text', 'hello'],
    ['another event', JSON.stringify({ type: 'config_loaded', time: native.time, app: 'x' })],
    ['a request without a time', JSON.stringify({ ...native, start: 'never' })],
    ['an array', '[1,2]'],
    ['a partial CRI line', `2026-11-20T09:00:00Z stdout P ${JSON.stringify(native)}`],
  ])('skips %s', (_what, line) => {
    expect(parseAuditLine(line)).toBeUndefined();
  });
});

describe('line scanner', () => {
  const lines = [
    '{"a":"alice@example.com"}',
    '{"b":"bob@example.com"}',
    'x'.repeat(300),
    '{"c":"ALICE@example.com and alice@example.com twice"}',
    '',
    '{"d":"carol"}',
  ];
  const text = `${lines.join('\n')}\n{"tail":"alice@example.com"}`;

  it('finds every line holding a needle, whatever the chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        async (sizes) => {
          const bytes = Buffer.from(text);
          const chunks: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const size = sizes[i % sizes.length] as number;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          const found: string[] = [];
          const stats = await scanLines(
            (async function* () {
              yield* chunks;
            })(),
            (l) => found.push(l),
            [Buffer.from('alice@example.com')],
          );
          expect(found).toEqual([lines[0], lines[3], '{"tail":"alice@example.com"}']);
          expect(stats.lines).toBe(7);
          expect(stats.bytes).toBe(bytes.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hands on every non-empty line without needles', async () => {
    const found: string[] = [];
    await scanLines([Buffer.from(text)] as unknown as AsyncIterable<Buffer>, (l) => found.push(l));
    expect(found).toEqual([...lines.filter(Boolean), '{"tail":"alice@example.com"}']);
  });
});

const request = (n: number, over: Partial<RequestRecord> = {}): RequestRecord => ({
  kind: 'request',
  start: n * 1000,
  end: n * 1000 + 10,
  requestId: `r${String(n).padStart(3, '0')}`,
  app: 'corp/wiki',
  host: 'h',
  method: 'GET',
  uri: `/p/${n}`,
  status: 200,
  outcome: 'served',
  clientIp: '192.0.2.1',
  userAgent: 'Firefox',
  identity: { kind: 'user', sub: 's', email: 'alice@example.com', idp: 'corp' },
  sessionId: 'sid',
  decision: { action: 'allow', policy: 'p', rule: 'include', reason: 'x' },
  ...over,
});
const deny = { decision: { action: 'deny', policy: 'p', rule: 'exclude', reason: 'x' }, status: 403 };

describe('anomalies', () => {
  it.each<[string, RequestRecord[], string[]]>([
    ['nothing in a steady session', [request(1), request(2), request(3)], []],
    ['an IP change', [request(1), request(2, { clientIp: '203.0.113.9' })], ['ip_change']],
    [
      'a new address in the same IPv6 /64 (a privacy address the host rotated) is no move',
      [request(1, { clientIp: '2001:db8:1:2::5' }), request(2, { clientIp: '2001:db8:1:2:a8f3:1:2:3' })],
      [],
    ],
    [
      'a move to another /64 is one',
      [request(1, { clientIp: '2001:db8:1:2::5' }), request(2, { clientIp: '2001:db8:1:3::5' })],
      ['ip_change'],
    ],
    [
      'the same address through another private endpoint (another consumer\u2019s network) is a move',
      [
        request(1, { clientIp: '10.0.0.7', privateEndpoint: 'aws:vpce-0a1' }),
        request(2, { clientIp: '10.0.0.7', privateEndpoint: 'aws:vpce-0a1' }),
        request(3, { clientIp: '10.0.0.7', privateEndpoint: 'aws:vpce-0b2' }),
      ],
      ['ip_change'],
    ],
    [
      'the same endpoint and address is none',
      [
        request(1, { clientIp: '10.0.0.7', privateEndpoint: 'gcp:7' }),
        request(2, { clientIp: '10.0.0.7', privateEndpoint: 'gcp:7' }),
      ],
      [],
    ],
    ['a user-agent change', [request(1), request(2, { userAgent: 'curl/8' })], ['user_agent_change']],
    ['five denials within a minute', [1, 2, 3, 4, 5].map((n) => request(n * 10, deny)), ['denial_burst']],
    ['five denials spread over longer', [1, 2, 3, 4, 5].map((n) => request(n * 20, deny)), []],
    ['one flag for a long burst', [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => request(n, deny)), ['denial_burst']],
    [
      'requests asked for a more recent sign-in (a signedInWithin window passed) are no denial burst',
      [1, 2, 3, 4, 5, 6].map((n) =>
        request(n * 5, {
          status: 401,
          outcome: 'denied',
          error: 'fresh_sign_in_required',
          decision: { action: 'deny', policy: 'admin', rule: 'require', reason: 'fresh_sign_in_required' },
        }),
      ),
      [],
    ],
    [
      'five denials among them still are one',
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) =>
        request(
          n * 5,
          n % 2 === 0
            ? deny
            : {
                status: 401,
                outcome: 'denied',
                error: 'fresh_sign_in_required',
                decision: {
                  action: 'deny',
                  policy: 'admin',
                  rule: 'require',
                  reason: 'fresh_sign_in_required',
                },
              },
        ),
      ),
      ['denial_burst'],
    ],
    [
      'a sign-in of another browser refused in the session (login CSRF)',
      [
        request(1),
        request(2, {
          uri: '/.gatehouse/callback?code=[REDACTED]&state=x',
          status: 302,
          outcome: 'gateway',
          error: 'login_failed',
          errorCause: 'browser_mismatch',
          decision: null,
        }),
      ],
      ['foreign_sign_in'],
    ],
    [
      'another failed sign-in is no anomaly',
      [
        request(1),
        request(2, { status: 400, outcome: 'denied', error: 'login_failed', errorCause: 'login_expired' }),
      ],
      [],
    ],
  ])('%s', (_what, requests, kinds) => {
    expect(findAnomalies(requests, { burstCount: 5, burstWindowMs: 60_000 }).map((a) => a.kind)).toEqual(
      kinds,
    );
  });
});

describe('sessions', () => {
  it('through private endpoints: the endpoints listed, each request\u2019s client named with its endpoint, a move between them flagged', () => {
    const b = new SessionBuilder();
    b.add(
      authRecord('login_succeeded', 500, {
        sessionId: 'sid',
        email: 'alice@example.com',
        clientIp: '10.0.0.9',
        privateEndpoint: 'gcp:18446744073709551615',
      }),
    );
    b.add(request(1, { clientIp: '10.0.0.7', privateEndpoint: 'aws:vpce-0a1' }));
    b.add(request(2, { clientIp: '10.0.0.7', privateEndpoint: 'aws:vpce-0b2' }));
    b.add(request(3, { clientIp: '10.0.0.7' }));
    const [session] = b.sessions();
    expect(session?.ips).toEqual(['10.0.0.9', '10.0.0.7']);
    expect(session?.privateEndpoints).toEqual(['gcp:18446744073709551615', 'aws:vpce-0a1', 'aws:vpce-0b2']);
    expect(session?.anomalies.map((a) => a.detail)).toEqual([
      'moved to 10.0.0.7 via aws:vpce-0b2 (from 10.0.0.7 via aws:vpce-0a1)',
      'moved to 10.0.0.7 (from 10.0.0.7 via aws:vpce-0b2)',
    ]);
    const text = sessionText(session as Session);
    expect(text).toContain('  endpoints  gcp:18446744073709551615, aws:vpce-0a1, aws:vpce-0b2\n');
    expect(text).toContain('from 10.0.0.9 via gcp:18446744073709551615\n');
    expect(text).toMatch(/10\.0\.0\.7 via aws:vpce-0a1 /);
  });

  it.each([
    [
      'methods, class and an authentication two hours before',
      { amr: ['pwd', 'mfa'], acr: 'phr', authenticatedAt: '2026-11-20T07:00:00.000Z' },
      'pwd, mfa · acr phr · authenticated at the provider 2026-11-20T07:00:00.000Z, 2h00m before',
    ],
    [
      'an authentication at the sign-in',
      { amr: ['hwk'], authenticatedAt: '2026-11-20T09:00:00.000Z' },
      'hwk · authenticated at the provider then',
    ],
    ['nothing said', {}, 'not said (no amr, acr or auth_time in the sign-in)'],
    ['an empty amr', { amr: [] }, 'no methods named'],
    [
      'amr not a list of strings, a time that is none, a class with a control character',
      { amr: ['pwd', 7], authenticatedAt: 'yesterday', acr: 'gold\u001b[2J' },
      'acr gold\\x1b[2J',
    ],
  ])('says how the sign-in authenticated the user: %s', (_what, fields, how) => {
    const b = new SessionBuilder();
    const line = {
      type: 'login_succeeded',
      time: '2026-11-20T09:00:00.500Z',
      app: 'corp/wiki',
      sessionId: 'sid',
      email: 'alice@example.com',
      ...fields,
    };
    b.add(parseAuditLine(JSON.stringify(line)) as NonNullable<ReturnType<typeof parseAuditLine>>);
    const [session] = b.sessions();
    expect(sessionText(session as Session)).toContain(`\n  how        ${how}\n`);
  });

  it('the page and the JSON say how too: markup in amr escaped, times in RFC 3339', () => {
    const b = new SessionBuilder();
    const login = {
      type: 'login_succeeded',
      time: '2026-11-20T09:00:00.000Z',
      app: 'corp/wiki',
      sessionId: 'sid',
      amr: ['pwd', '<img src=x>'],
      authenticatedAt: '2026-11-20T08:59:00.000Z',
    };
    b.add(parseAuditLine(JSON.stringify(login)) as NonNullable<ReturnType<typeof parseAuditLine>>);
    const answer = {
      kind: 'sessions' as const,
      query: { kind: 'sessions' as const, range: { since: -Infinity, until: Infinity } },
      sessions: b.sessions(),
    };
    const page = renderHtml(answer).join('');
    expect(page).toContain(
      'from <b>an address not logged</b> (pwd, &lt;img src=x&gt; · authenticated at the provider 2026-11-20T08:59:00.000Z, 1 min 0 s before)',
    );
    expect(page).not.toContain('<img');
    expect(JSON.parse(renderJson(answer).join(''))[0].login.signIn).toEqual({
      authenticatedAt: '2026-11-20T08:59:00.000Z',
      amr: ['pwd', '<img src=x>'],
      acr: null,
    });
  });

  it('orders requests by start (ties by request id), collects IPs and agents, and takes the earliest end', () => {
    const b = new SessionBuilder();
    b.add(request(5));
    b.add(request(1, { clientIp: '192.0.2.9' }));
    b.add(request(5, { requestId: 'r000' }));
    b.add({
      kind: 'auth',
      type: 'logout',
      time: 9000,
      app: 'corp/wiki',
      requestId: null,
      sessionId: 'sid',
      email: 'alice@example.com',
      sub: 's',
      provider: 'corp',
      clientIp: null,
      userAgent: null,
      reason: null,
      revocation: null,
      revokedBefore: null,
    });
    b.add({
      kind: 'auth',
      type: 'revocation_applied',
      time: 8000,
      app: 'corp/wiki',
      requestId: null,
      sessionId: null,
      email: 'alice@example.com',
      sub: null,
      provider: null,
      clientIp: null,
      userAgent: null,
      reason: 'INC-1',
      revocation: 'rev-1',
      revokedBefore: 7000,
    });
    const [session] = b.sessions();
    expect(session?.requests.map((r) => r.requestId)).toEqual(['r001', 'r000', 'r005']);
    expect(session?.ips).toEqual(['192.0.2.9', '192.0.2.1']);
    expect(session?.end).toEqual({ kind: 'revoked', time: 8000, detail: 'rev-1', reason: 'INC-1' });
    expect(
      renderTable({
        kind: 'sessions',
        query: { kind: 'sessions', range: { since: -Infinity, until: Infinity } },
        sessions: b.sessions(),
      }).join(''),
    ).toContain('ended      revoked at 1970-01-01T00:00:08.000Z (rev-1: INC-1)');
  });

  it('flags a session whose cookie a browser it was not signed in with brought (session_refused), with where it came from', () => {
    const b = new SessionBuilder();
    b.add(request(1));
    b.add(request(2));
    b.add({
      kind: 'auth',
      type: 'session_refused',
      time: 5000,
      app: 'corp/wiki',
      requestId: 'r-planted',
      sessionId: 'sid',
      email: 'alice@example.com',
      sub: 's',
      provider: 'corp',
      clientIp: '198.51.100.23',
      userAgent: 'Chrome/131',
      reason: 'other_browser',
      revocation: null,
      revokedBefore: null,
    });
    const [session] = b.sessions();
    expect(session?.anomalies).toEqual([
      {
        kind: 'foreign_browser',
        time: 5000,
        requestId: 'r-planted',
        detail:
          "its cookie came from a browser it was not signed in with (198.51.100.23, Chrome/131) and was refused: copied out of the user's browser, or planted into another one",
      },
    ]);
    // The refused request is no request of the session: the session's own stand as they were.
    expect(session?.requests.map((r) => r.requestId)).toEqual(['r001', 'r002']);
    // The sidecar's line is read as that record.
    const line = {
      type: 'session_refused',
      time: new Date(5000).toISOString(),
      app: 'corp/wiki',
      requestId: 'r-planted',
      clientIp: '198.51.100.23',
      userAgent: 'Chrome/131',
      reason: 'other_browser',
      provider: 'corp',
      sub: 's',
      email: 'alice@example.com',
      sessionId: 'sid',
    };
    expect(toAuditRecord(line)).toMatchObject({ kind: 'auth', type: 'session_refused', sessionId: 'sid' });
  });

  it('counts a request as activity until its response ended: a stream cut by a revocation hours after it began', () => {
    const b = new SessionBuilder();
    b.add(
      request(1, { end: 4 * 3_600_000, outcome: 'denied', error: 'session_revoked', uri: '/api/stream' }),
    );
    b.add(request(2));
    const [session] = b.sessions();
    expect(session).toMatchObject({ first: 1000, last: 4 * 3_600_000 });
    const text = renderTable({
      kind: 'sessions',
      query: { kind: 'sessions', range: { since: -Infinity, until: Infinity } },
      sessions: b.sessions(),
    }).join('');
    expect(text).toContain('→ 1970-01-01T04:00:00.000Z (3h59m), 2 requests');
  });

  it('a session table says why a request failed, in a column of its own', () => {
    const b = new SessionBuilder();
    b.add(request(1));
    b.add(
      request(2, {
        status: 502,
        outcome: 'upstream_error',
        error: 'upstream_unavailable',
        errorCause: 'connect_refused',
      }),
    );
    b.add(request(3, { status: 503, error: 'upstream_busy', errorCause: null }));
    const text = renderTable({
      kind: 'sessions',
      query: { kind: 'sessions', range: { since: -Infinity, until: Infinity } },
      sessions: b.sessions(),
    }).join('');
    const rows = text.split('\n').filter((line) => line.includes(' GET '));
    expect(text).toMatch(/ STATUS +DECISION +ERROR +CLIENT IP +USER AGENT\n/);
    expect(rows[0]).toMatch(/ 200 +allow p +- +192\.0\.2\.1 /);
    expect(rows[1]).toMatch(/ 502 +allow p +upstream_unavailable \(connect_refused\) +192\.0\.2\.1 /);
    expect(rows[2]).toMatch(/ 503 +allow p +upstream_busy +192\.0\.2\.1 /);
  });
});

describe('large answers', () => {
  it('a table of 300,000 requests: columns sized without a spread of every row (it overflowed the stack)', () => {
    const requests = Array.from({ length: 300_000 }, (_, i) => requestRecord(i));
    const text = renderTable({
      kind: 'requests',
      query: { kind: 'requests', range: { since: -Infinity, until: Infinity }, path: '/*' },
      requests,
    }).join('');
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(300_001);
    expect(lines[0]).toMatch(/^TIME +APP +USER +METHOD +URI +STATUS +DECISION +ERROR +CLIENT IP$/);
    expect(lines.at(-1)).toContain('/p299999');
  });
});

describe('a requests question given out as requests come', () => {
  const query = { kind: 'requests' as const, range: { since: -Infinity, until: Infinity }, path: '/*' };
  const starts = (requests: readonly RequestRecord[]) => requests.map((r) => r.start);

  it.each([
    ['nearly in order (lines at each request end)', (i: number) => i * 10 + (i % 3) * 15],
    ['backwards (not in time order: sorted when asked for)', (i: number) => 100_000 - i],
    ['shuffled', (i: number) => (i * 7919) % 5003],
  ])('%s: given out and answered in start order, each once', (_, startOf) => {
    const runner = createQueryRunner(query);
    for (let i = 0; i < 5003; i++) runner.add(requestRecord(startOf(i), { requestId: `r${i}` }));
    const middle = [...starts(runner.releaseRequestsBefore(5_000))];
    const answer = runner.answer();
    const rest = answer.kind === 'requests' ? starts(answer.requests) : [];
    const all = [...middle, ...rest];
    expect(all).toHaveLength(5003);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(middle.every((t) => t < 5_000)).toBe(true);
    expect(rest.every((t) => t >= 5_000)).toBe(true);
  });
});

describe('the requests table written as requests come', () => {
  const query = { kind: 'requests' as const, range: { since: -Infinity, until: Infinity }, path: '/*' };
  const written = (requests: RequestRecord[], sample?: number): string => {
    let text = '';
    const table = requestTableWriter((piece) => {
      text += piece;
    }, sample);
    for (const r of requests) table.row(r);
    table.end();
    return text;
  };

  it('reads as the whole table does when the answer is within the sample, or empty', () => {
    const requests = Array.from({ length: 50 }, (_, i) => requestRecord(i, { uri: `/p${'x'.repeat(i)}` }));
    expect(written(requests)).toBe(renderTable({ kind: 'requests', query, requests }).join(''));
    expect(written([])).toBe(renderTable({ kind: 'requests', query, requests: [] }).join(''));
  });

  it('past the sample: columns keep their widths, a longer address is never cut, a URI past 60 is', () => {
    const requests = [
      requestRecord(1, { clientIp: '10.0.0.1', uri: '/a' }),
      requestRecord(2, { clientIp: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1', uri: `/${'u'.repeat(80)}` }),
    ];
    const [header, first, second] = written(requests, 1).trimEnd().split('\n');
    expect(header?.indexOf('CLIENT IP')).toBe(first?.indexOf('10.0.0.1'));
    expect(second).toContain('2001:db8:aaaa:bbbb:cccc:dddd:eeee:1');
    expect(second).toContain(`/${'u'.repeat(58)}…`);
  });
});

describe('revocation by subject', () => {
  it('ends the sessions of that subject and provider only', () => {
    const b = new SessionBuilder();
    b.add(
      request(1, { identity: { kind: 'user', sub: 'svc-7', email: null, idp: 'corp' }, sessionId: 'one' }),
    );
    b.add(
      request(2, { identity: { kind: 'user', sub: 'svc-7', email: null, idp: 'google' }, sessionId: 'two' }),
    );
    b.add({
      kind: 'auth',
      type: 'revocation_applied',
      time: 5000,
      app: 'corp/wiki',
      requestId: null,
      sessionId: null,
      email: null,
      sub: 'svc-7',
      provider: 'corp',
      clientIp: null,
      userAgent: null,
      reason: null,
      revocation: 'rev-s',
      revokedBefore: 4000,
    });
    const ends = Object.fromEntries(b.sessions().map((s) => [s.sessionId, s.end?.kind ?? null]));
    expect(ends).toEqual({ one: 'revoked', two: null });
  });
});

describe('queries and arguments', () => {
  it.each([
    ['/admin/*', '/admin/users?x=1', true],
    ['/admin/*', '/administrator', false],
    ['/admin', '/admin?x', true],
    ['/admin', '/admin/x', false],
  ])('path %s against %s', (filter, uri, matches) => expect(pathMatches(filter, uri)).toBe(matches));

  it('searches for the email in any letter case, JSON-escaped; IPs and paths exactly', () => {
    const email = queryNeedles({
      kind: 'sessions',
      user: 'grace.hopper@corp.example',
      range: { since: 0, until: 1 },
    });
    expect(Array.isArray(email)).toBe(false);
    const line = Buffer.from(
      '{"a":1}\n{"email":"Grace.Hopper@Corp.Example"}\n{"email":"GRACE.HOPPER@CORP.EXAMPLE"}\n{"email":"grace.hopperXcorp.example"}\n',
    );
    const next = (email as Needles).search(line, line.length);
    const first = next(0);
    expect(line.toString('latin1', first, first + 9)).toBe('Grace.Hop');
    const second = next(first + 1);
    expect(line.toString('latin1', second, second + 9)).toBe('GRACE.HOP');
    expect(next(second + 1)).toBe(-1); // the dot is literal
    // Ends that held in one sidecar name a session, not a user: their lines are read for any user.
    const ends = Buffer.from('{"a":1}\n{"type":"session_end_unreported","session":"S1"}\n');
    expect((email as Needles).search(ends, ends.length)(0)).toBe(16);
    // Quoted values also as a line inside a JSON string holds them (a Splunk export's _raw).
    const exact = (q: Parameters<typeof queryNeedles>[0]) => (queryNeedles(q) as Buffer[]).map(String);
    expect(exact({ kind: 'ip', ip: '10.0.0.1', endpoint: null, range: { since: 0, until: 1 } })).toEqual([
      '"10.0.0.1"',
      '\\"10.0.0.1\\"',
    ]);
    // A range has no spelling, but the endpoint that narrows it has.
    expect(
      exact({ kind: 'ip', ip: '10.0.0.0/8', endpoint: 'aws:vpce-0a1', range: { since: 0, until: 1 } }),
    ).toEqual(['"aws:vpce-0a1"', '\\"aws:vpce-0a1\\"']);
    expect(exact({ kind: 'sessions', sub: 'ada', range: { since: 0, until: 1 } })).toEqual(
      [
        '"ada"',
        '"revocation_applied"',
        '"session_end_unreported"',
        '"session_end_delayed"',
        '"session_end_reported"',
      ].flatMap((needle) => [needle, JSON.stringify(needle).slice(1, -1)]),
    );
    const range = { since: 0, until: 1 };
    expect(exact({ kind: 'requests', path: '/admin/*', range })).toEqual(['/admin/']);
    expect(exact({ kind: 'requests', path: '/a"b', range })).toEqual(['/a\\"b', '/a\\\\\\"b']);
    expect(queryNeedles({ kind: 'requests', path: '*', range })).toEqual([]);
  });

  it.each([
    ['24h', Date.parse('2026-11-20T09:00:00Z')],
    ['7d', Date.parse('2026-11-14T09:00:00Z')],
    ['2026-11-01T00:00:00Z', Date.parse('2026-11-01T00:00:00Z')],
  ])('time argument %s', (text, expected) => {
    expect(parseTimeArgument(text, '--since', Date.parse('2026-11-21T09:00:00Z'))).toBe(expected);
  });

  it.each(['yesterday', '11/20/2026', ''])('refuses the time %j', (text) => {
    expect(() => parseTimeArgument(text, '--since')).toThrow(UsageError);
  });

  it('reads --burst and refuses nonsense', () => {
    expect(parseBurst('3/10s')).toEqual({ burstCount: 3, burstWindowMs: 10_000 });
    for (const bad of ['5', '1/60s', 'x/60s', '5/soon']) expect(() => parseBurst(bad)).toThrow(UsageError);
  });
});
