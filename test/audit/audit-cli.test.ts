import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { READER_GONE_STATUS } from '../../lib/reader-gone.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { GATEHOUSE_BIN, runGatehouse, SIDECAR_ENV } from '../helpers/sidecar-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-cli-'));

const request = (n: number, ip: string, email: string | null, uri: string, ua = 'Firefox') => {
  const second = `2026-11-20T10:00:${String(n).padStart(2, '0')}`;
  return requestLine({
    requestId: `r${n}`,
    uri,
    start: `${second}.000Z`,
    end: `${second}.050Z`,
    clientIp: ip,
    userAgent: ua,
    identity: email ? { kind: 'user', sub: `${email}-sub`, email, idp: 'corp' } : null,
    sessionId: email ? `${email}-session` : null,
    decision: { action: 'allow', policy: 'corp/staff', rule: 'include', reason: 'x' },
  });
};

const lines = [
  request(1, '192.0.2.1', 'alice@example.com', '/a'),
  request(2, '192.0.2.1', 'bob@example.com', '/admin/x'),
  request(3, '203.0.113.5', 'alice@example.com', '/admin/y', 'curl/8\u001b[2J'),
  request(4, '192.0.2.1', null, '/healthz'),
  'garbage line',
].join('\n');

describe('gatehouse audit (command line)', () => {
  it('reads standard input and prints a table, escaping control characters from the logs', async () => {
    const { code, stdout, stderr } = await runGatehouse(
      ['audit', 'sessions', '--user', 'ALICE@example.com'],
      lines,
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // Sessions are written as they are over; the count comes last.
    expect(stdout).toMatch(/\n1 session, 2 anomalies\n$/);
    expect(stdout).toContain('alice@example.com-session');
    expect(stdout).toContain('ip change at 2026-11-20T10:00:03.000Z: moved to 203.0.113.5 (from 192.0.2.1)');
    expect(stdout).toContain('curl/8\\x1b[2J');
    expect(stdout).not.toContain('\u001b');
  });

  it('reads .gz files, answers who was seen from an IP, and which requests hit a path', async () => {
    writeFileSync(join(dir, 'wiki.log.gz'), gzipSync(lines));
    const ip = await runGatehouse(['audit', 'ip', '192.0.2.1', '--format', 'json', join(dir, 'wiki.log.gz')]);
    expect((JSON.parse(ip.stdout) as { user: string }[]).map((u) => u.user)).toEqual([
      'alice@example.com',
      'bob@example.com',
      '(anonymous)',
    ]);
    const admin = await runGatehouse([
      'audit',
      'requests',
      '--path',
      '/admin/*',
      '--format',
      'json',
      join(dir, 'wiki.log.gz'),
    ]);
    expect((JSON.parse(admin.stdout) as { requestId: string }[]).map((r) => r.requestId)).toEqual([
      'r2',
      'r3',
    ]);
    const window = await runGatehouse(
      [
        'audit',
        'requests',
        '--app',
        'corp/wiki',
        '--since',
        '2026-11-20T10:00:02Z',
        '--until',
        '2026-11-20T10:00:03Z',
        '--format',
        'json',
      ],
      lines,
    );
    expect((JSON.parse(window.stdout) as { requestId: string }[]).map((r) => r.requestId)).toEqual([
      'r2',
      'r3',
    ]);
  });

  it('answers who was seen from a range: an IPv6 host that sends from many addresses of its /64, an IPv4 subnet', async () => {
    const mixed = [
      request(1, '2001:db8:1:2::17', 'mallory@example.com', '/a'),
      request(2, '2001:db8:1:2:a:b:c:d', null, '/b'),
      request(3, '2001:db8:1:3::17', 'carol@example.com', '/c'),
      request(4, '198.51.100.20', 'dave@example.com', '/d'),
      request(5, '198.51.101.20', 'erin@example.com', '/e'),
    ].join('\n');
    const usersFrom = async (range: string) => {
      const run = await runGatehouse(['audit', 'ip', range, '--format', 'json'], mixed);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      return (JSON.parse(run.stdout) as { user: string; requests: number }[]).map(
        (u) => `${u.user} ${u.requests}`,
      );
    };
    expect(await usersFrom('2001:DB8:1:2::/64')).toEqual(['mallory@example.com 1', '(anonymous) 1']);
    expect(await usersFrom('198.51.100.0/24')).toEqual(['dave@example.com 1']);
    // An address is still compared as logged, exactly.
    expect(await usersFrom('2001:db8:1:2:0:0:0:17')).toEqual(['mallory@example.com 1']);
  });

  it('answers who came through a private endpoint, and from an address through one', async () => {
    const through = (n: number, ip: string, endpoint: string | null, email: string) => {
      const line = JSON.parse(request(n, ip, email, `/p/${n}`)) as Record<string, unknown>;
      return JSON.stringify(endpoint === null ? line : { ...line, privateEndpoint: endpoint });
    };
    // Two consumers whose networks use the same addresses, and a client with no endpoint.
    const mixed = [
      through(1, '10.0.0.7', 'aws:vpce-0a1', 'ann@partner-a.example'),
      through(2, '10.0.0.7', 'aws:vpce-0b2', 'bo@partner-b.example'),
      through(3, '10.0.0.8', 'aws:vpce-0a1', 'cy@partner-a.example'),
      through(4, '10.0.0.7', null, 'dee@example.com'),
    ].join('\n');
    const usersOf = async (...args: string[]) => {
      const run = await runGatehouse(['audit', 'ip', ...args, '--format', 'json'], mixed);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      return (JSON.parse(run.stdout) as { user: string }[]).map((u) => u.user);
    };
    expect(await usersOf('aws:vpce-0a1')).toEqual(['ann@partner-a.example', 'cy@partner-a.example']);
    expect(await usersOf('10.0.0.7', '--private-endpoint', 'aws:vpce-0b2')).toEqual(['bo@partner-b.example']);
    expect(await usersOf('10.0.0.0/8', '--private-endpoint', 'aws:vpce-0a1')).toEqual([
      'ann@partner-a.example',
      'cy@partner-a.example',
    ]);
    expect(await usersOf('10.0.0.7')).toEqual([
      'ann@partner-a.example',
      'bo@partner-b.example',
      'dee@example.com',
    ]);
    const none = await runGatehouse(['audit', 'ip', 'gcp:7'], mixed);
    expect(none.stdout).toBe('No one seen through gcp:7.\n');
    // The session view names each request's client with its endpoint.
    const session = await runGatehouse(['audit', 'sessions', '--user', 'bo@partner-b.example'], mixed);
    expect(session.stdout).toContain('  endpoints  aws:vpce-0b2\n');
    expect(session.stdout).toContain('10.0.0.7 via aws:vpce-0b2');
  });

  it.each([
    [['audit'], /which question: sessions, ip or requests/],
    [['audit', 'ip', '10.0.0.7', '--private-endpoint', 'vpce-0a1'], /--private-endpoint "vpce-0a1" is none/],
    [['audit', 'ip', 'aws:vpce-0a1', '--private-endpoint', 'aws:vpce-0b2'], /give one private endpoint/],
    [['audit', 'ip', '2001:db8::/129'], /audit ip: not an address range \(got "2001:db8::\/129"\)/],
    [['audit', 'whatever'], /unknown question "whatever"/],
    [['audit', 'ip', 'not-an-ip'], /needs an IPv4 or IPv6 address, a range or a private endpoint/],
    [['audit', 'requests'], /needs --path, --app or --user/],
    [['audit', 'sessions', '--since', 'last tuesday'], /--since must be an RFC 3339 time/],
    [['audit', 'sessions', '--format', 'pdf'], /--format must be table, json, jsonl or html/],
    [['audit', 'sessions', '--burst', '1/1s'], /--burst must be/],
    [['audit', 'sessions', '--cluster', 'file.log'], /give files or --cluster, not both/],
  ])('refuses %j with exit 2 and the usage', async (args, message) => {
    const { code, stderr } = await runGatehouse(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('Usage: gatehouse audit');
  });
});

describe('gatehouse audit: ends that name a session, not its user', () => {
  const ada = { kind: 'user', sub: 'ada-sub', email: 'ada@example.com', idp: 'corp' };
  const at = (second: number) => `2026-11-20T12:00:0${second}.000Z`;
  const adaRequest = (second: number, host: string) =>
    requestLine({
      requestId: `ada-${second}`,
      host,
      uri: `/doc/${second}`,
      start: at(second),
      end: at(second),
      identity: ada,
      sessionId: 'S1',
    });
  const revocation = (target: Record<string, string>) =>
    JSON.stringify({
      type: 'revocation_applied',
      time: at(2),
      app: 'corp/wiki',
      revocation: 'end-1',
      ...target,
      revokedBefore: at(2),
      reason: null,
      websocketsClosed: 0,
    });
  const signedIn = JSON.stringify({
    type: 'login_succeeded',
    time: at(0),
    app: 'corp/wiki',
    requestId: 'login-1',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    clientIp: '192.0.2.10',
    userAgent: 'Firefox',
    provider: 'corp',
    sub: 'ada-sub',
    email: 'ada@example.com',
    sessionId: 'S1',
    providerSession: 'P9',
  });

  it.each([
    ['a sign-out on another replica', { session: 'S1' }],
    ['a back-channel logout', { providerSession: 'P9', provider: 'corp' }],
    ['a revocation of the subject', { subject: 'ada-sub', provider: 'corp' }],
  ])('after %s, a request served later is flagged for every way of asking', async (_what, target) => {
    const log = [
      signedIn,
      adaRequest(1, 'wiki-a'),
      revocation(target),
      // Another user's end by name joins nothing of Ada's.
      revocation({ session: 'S2', revocation: 'end-2' }),
      adaRequest(3, 'wiki-b'),
    ].join('\n');
    const file = join(dir, `ends-by-name-${Object.keys(target).join('-')}.log`);
    writeFileSync(file, `${log}\n`);
    // The same lines exported from Splunk: each inside a JSON string, its quotes escaped.
    const exported = join(dir, `ends-by-name-${Object.keys(target).join('-')}.splunk.json`);
    const lines = log.split('\n');
    writeFileSync(
      exported,
      `${lines.map((line) => JSON.stringify({ result: { _raw: line } })).join('\n')}\n`,
    );
    for (const [filter, input] of [[], ['--user', 'ADA@example.com'], ['--sub', 'ada-sub']].flatMap((f) => [
      [f, file] as const,
      [f, exported] as const,
    ])) {
      const { code, stdout, stderr } = await runGatehouse([
        'audit',
        'sessions',
        ...filter,
        '--format',
        'json',
        input,
      ]);
      expect({ filter, code, stderr }).toEqual({ filter, code: 0, stderr: '' });
      const [session, ...others] = JSON.parse(stdout) as {
        sessionId: string;
        end: { kind: string; detail: string } | null;
        anomalies: { kind: string }[];
      }[];
      expect(others).toEqual([]);
      expect({ filter, end: session?.end, anomalies: session?.anomalies.map((a) => a.kind) }).toEqual({
        filter,
        end: expect.objectContaining({ kind: 'revoked', detail: 'end-1' }),
        anomalies: ['used_after_end'],
      });
    }
  });
});

describe('gatehouse audit piped into a reader that stops early', () => {
  it(`ends quietly with ${READER_GONE_STATUS} when the reader goes (| head), not with a stack trace`, async () => {
    // 3,000 sessions: far more output than a pipe holds.
    const many = Array.from({ length: 3_000 }, (_, i) =>
      requestLine({
        requestId: `many-${i}`,
        uri: `/page/${i}`,
        start: `2026-11-20T11:00:00.${String(i % 1000).padStart(3, '0')}Z`,
        end: `2026-11-20T11:00:00.${String(i % 1000).padStart(3, '0')}Z`,
        clientIp: '192.0.2.7',
        userAgent: 'Firefox',
        identity: { kind: 'user', sub: `u${i}`, email: `u${i}@example.com`, idp: 'corp' },
        sessionId: `many-session-${i}`,
        decision: { action: 'allow', policy: 'corp/staff', rule: 'include', reason: 'x' },
      }),
    );
    const file = join(dir, 'many.log');
    writeFileSync(file, `${many.join('\n')}\n`);
    const child = spawn(process.execPath, [GATEHOUSE_BIN, 'audit', 'sessions', '--format', 'jsonl', file], {
      env: SIDECAR_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Read the first chunk, then go, as head does.
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.stdout.destroy();
    expect(await exited).toBe(READER_GONE_STATUS);
    expect(stderr).toBe('');
  });
});
