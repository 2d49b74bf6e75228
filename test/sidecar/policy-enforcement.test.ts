import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessPolicySpec } from '../../contract/api/access-policy.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * The most lenient reading of a path any upstream might apply: percent-decoding (repeatedly),
 * backslashes as slashes, path parameters stripped, slashes merged, dot segments resolved.
 * Case is kept: path matching is documented as case-sensitive.
 */
function lenientPath(raw: string): string {
  let path = raw.split('?')[0] ?? '';
  for (let i = 0; i < 3; i++) {
    path = path.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
  }
  path = path.replaceAll('\\', '/').replaceAll('\0', '');
  const out: string[] = [];
  for (const segment of path.split('/')) {
    const name = segment.split(';')[0] ?? '';
    if (name === '' || name === '.') continue;
    if (name === '..') out.pop();
    else out.push(name);
  }
  return `/${out.join('/')}`;
}

const reachesAdmin = (raw: string) => {
  const path = lenientPath(raw);
  return path === '/admin' || path.startsWith('/admin/') || path.startsWith('/admin#');
};

const PUBLIC: AccessPolicySpec = {
  decision: 'bypass',
  include: [{ everyone: true }],
  exclude: [{ paths: ['/admin/**'] }],
};
const BLOCK_ADMIN: AccessPolicySpec = { decision: 'deny', include: [{ paths: ['/admin/**'] }] };

let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(
    testConfig(
      {
        upstream: { url: upstream.url },
        trustedProxies: ['10.0.0.0/8'],
        policies: [{ name: 'block-admin' }, { name: 'public' }],
      },
      { public: PUBLIC, 'block-admin': BLOCK_ADMIN },
    ),
  );
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
});

const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`;

/** Raw request targets aimed at /admin; each must be refused or land on a path that is not /admin. */
const BYPASS_CORPUS: string[] = [
  '/admin',
  '/admin/',
  '/admin/users',
  '/admin/../admin',
  '/public/../admin',
  '/public/../admin/',
  '/public/./../admin',
  '/./admin',
  '/public/%2e%2e/admin',
  '/public/%2E%2E/admin',
  '/public/.%2e/admin',
  '/public/%2e./admin',
  '/public/%252e%252e/admin',
  '/public/..%2fadmin',
  '/public/..%2Fadmin',
  '/public/%2e%2e%2fadmin',
  '/public/..%5cadmin',
  '/public/..\\admin',
  '/public\\..\\admin',
  '//admin',
  '///admin',
  '//admin//users',
  '/%2fadmin',
  '/%2Fadmin',
  '/%252fadmin',
  '/admin;x=1',
  '/admin;/users',
  '/public/..;/admin',
  '/public;/../admin',
  '/admin%3bx',
  '/ADMIN',
  '/Admin/users',
  '/admin%00',
  '/admin%00/users',
  '/admin%23x',
  '/admin#x',
  '/admin%3fx',
  '/admin%20',
  '/admin%09',
  '/%61dmin',
  '/%61%64%6d%69%6e/users',
  '/adm%69n',
  '/a%64min/',
  '/admin%2f',
  '/admin%2e',
  '/admin/.',
  '/admin/./users',
  '/admin/users/..',
  '/public/%c0%ae%c0%ae/admin',
  '/public/%e0%80%ae%e0%80%ae/admin',
  '/public/%uff0e%uff0e/admin',
  '/public/\uff0e\uff0e/admin',
  'http://localhost/admin',
  'http://localhost/public/../admin',
  'https://localhost:443/admin',
  '//localhost/admin',
  'localhost/admin',
  '*/admin',
  'admin',
  '/public/%2e%2e%5cadmin',
  '/public/%2e%2e;/admin',
  '/public/..%00/admin',
  '/public/..%0d%0a/admin',
  '/%2e/admin',
  '/public/..../admin',
  '/public/.../admin',
];

describe('path-bypass corpus (sent raw)', () => {
  it(`has at least 60 cases (${BYPASS_CORPUS.length})`, () => {
    expect(BYPASS_CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it('never lets a request reach /admin at the upstream, however the path is spelled', async () => {
    const outcomes: string[] = [];
    for (const target of BYPASS_CORPUS) {
      const before = upstream.seen.length;
      const response = await rawRequest(gate.port, get(target));
      const status = statusOf(response);
      const forwarded = upstream.seen.slice(before).map((r) => r.url);
      for (const url of forwarded)
        expect(reachesAdmin(url), `${target} reached the upstream as ${url}`).toBe(false);
      if (status !== 0)
        expect(status === 403 || status === 400 || status < 300, `${target}: ${status}`).toBe(true);
      outcomes.push(`${status} ${target}`);
    }
    // The corpus exercises both refusals: by policy (403) and as ambiguous input (400).
    expect(outcomes.filter((o) => o.startsWith('403')).length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o.startsWith('400')).length).toBeGreaterThan(10);
  });

  it('the path matched is exactly the path forwarded', async () => {
    const before = upstream.seen.length;
    const status = statusOf(await rawRequest(gate.port, get('/public/./a//b/%7euser?q=1')));
    expect(status).toBe(200);
    expect(upstream.seen.slice(before).map((r) => r.url)).toEqual(['/public/a/b/~user?q=1']);
    const line = gate.records().at(-1);
    expect(line).toMatchObject({
      uri: '/public/a/b/~user?q=1',
      decision: { action: 'bypass', policy: 'public' },
    });
  });

  it('denied requests are logged with the deciding policy and rule', async () => {
    await rawRequest(gate.port, get('/public/../admin/x'));
    const line = gate.records().at(-1);
    expect(line).toMatchObject({
      status: 403,
      outcome: 'denied',
      error: 'access_denied',
      uri: '/admin/x',
      decision: { action: 'deny', policy: 'block-admin', rule: 'include[0].paths', reason: 'path_matched' },
    });
  });
});

/** Targets that Windows reads as /admin/users: trailing dots and spaces stripped, NTFS streams. */
const WINDOWS_SPELLINGS = [
  '/admin./users',
  '/ADMIN../users',
  '/admin%2e/users',
  '/admin%20/users',
  '/Admin.%20/users',
  '/admin::$INDEX_ALLOCATION/users',
  '/admin:$i30:$INDEX_ALLOCATION/users',
];

/**
 * A path as Windows reads it: letters in any case, each segment without a stream name (what
 * follows a colon) and without trailing dots and spaces.
 */
function asWindowsReadsIt(url: string): string {
  return lenientPath(url)
    .toLowerCase()
    .split('/')
    .map((segment) => segment.replace(/:.*$/, '').replace(/[. ]+$/, ''))
    .join('/');
}

describe('an application that finds its pages without regard to case (spec.upstream.caseInsensitivePaths)', () => {
  let foldingGate: InProcessSidecar;
  beforeAll(async () => {
    foldingGate = await startSidecar(
      testConfig(
        {
          upstream: { url: upstream.url, caseInsensitivePaths: true },
          policies: [{ name: 'block-admin' }, { name: 'public' }],
        },
        { public: PUBLIC, 'block-admin': BLOCK_ADMIN },
      ),
    );
  });
  afterAll(() => foldingGate.close());

  it('never lets a request reach /admin in any case at the upstream, however the path is spelled', async () => {
    const denied: string[] = [];
    for (const target of [
      ...BYPASS_CORPUS,
      ...WINDOWS_SPELLINGS,
      '/ADMIN/users',
      '/aDmIn',
      '/public/../AdMiN/x',
      '/%41dmin',
    ]) {
      const before = upstream.seen.length;
      const status = statusOf(await rawRequest(foldingGate.port, get(target)));
      for (const { url } of upstream.seen.slice(before))
        expect(reachesAdmin(asWindowsReadsIt(url)), `${target} reached the upstream as ${url}`).toBe(false);
      if (status === 403) denied.push(target);
    }
    for (const target of ['/ADMIN', '/Admin/users', '/aDmIn', '/%41dmin']) expect(denied).toContain(target);
  });

  it('refuses the spellings Windows reads as another path: 400 ambiguous_path, with its line', async () => {
    for (const target of [...WINDOWS_SPELLINGS, '/ADMINI~1/users']) {
      const before = upstream.seen.length;
      const answer = await rawRequest(foldingGate.port, get(target));
      expect(statusOf(answer), target).toBe(400);
      expect(answer, target).toContain('"error":"ambiguous_path"');
      expect(upstream.seen.length, target).toBe(before);
    }
    expect(foldingGate.records().at(-1)).toMatchObject({
      status: 400,
      error: 'ambiguous_path',
      uri: '/ADMINI~1/users',
    });
    // An application whose paths compare as sent gets them: to it they are other paths.
    const before = upstream.seen.length;
    expect(statusOf(await rawRequest(gate.port, get('/public/notes./x')))).toBe(200);
    expect(upstream.seen.slice(before).map((r) => r.url)).toEqual(['/public/notes./x']);
  });

  it('forwards the path as sent, and logs the deciding rule', async () => {
    const before = upstream.seen.length;
    expect(statusOf(await rawRequest(foldingGate.port, get('/Public/Report.PDF')))).toBe(200);
    expect(upstream.seen.slice(before).map((r) => r.url)).toEqual(['/Public/Report.PDF']);
    await rawRequest(foldingGate.port, get('/ADMIN/Users'));
    expect(foldingGate.records().at(-1)).toMatchObject({
      status: 403,
      uri: '/ADMIN/Users',
      decision: { action: 'deny', policy: 'block-admin', rule: 'include[0].paths', reason: 'path_matched' },
    });
  });
});

describe('client IP spoofing', () => {
  let spoofGate: InProcessSidecar;
  beforeAll(async () => {
    spoofGate = await startSidecar(
      testConfig(
        { upstream: { url: upstream.url }, trustedProxies: ['10.0.0.0/8'], policies: [{ name: 'office' }] },
        { office: { decision: 'bypass', include: [{ ipRanges: ['198.51.100.0/24'] }] } },
      ),
    );
  });
  afterAll(() => spoofGate.close());

  const SPOOFS = [
    'X-Forwarded-For: 198.51.100.7\r\n',
    'X-Forwarded-For: 198.51.100.7, 10.0.0.1\r\n',
    'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 198.51.100.7\r\n',
    'x-forwarded-for: 198.51.100.7\r\n',
    'X-Real-IP: 198.51.100.7\r\n',
    'Forwarded: for=198.51.100.7\r\n',
    'Forwarded: for="198.51.100.7:1234";proto=https\r\n',
    'True-Client-IP: 198.51.100.7\r\n',
    'CF-Connecting-IP: 198.51.100.7\r\n',
    'X-Client-IP: 198.51.100.7\r\n',
    'X-Cluster-Client-IP: 198.51.100.7\r\n',
    'Client-IP: 198.51.100.7\r\n',
    'X-Forwarded: for=198.51.100.7\r\n',
    'X-Originating-IP: 198.51.100.7\r\n',
    'X-Forwarded-For: ::ffff:198.51.100.7\r\n',
  ];

  it.each(SPOOFS)('an untrusted peer sending %j is still judged by its own address', async (header) => {
    const before = upstream.seen.length;
    const status = statusOf(await rawRequest(spoofGate.port, get('/x', header)));
    expect(status).toBe(403);
    expect(upstream.seen.length).toBe(before);
    const line = spoofGate.records().at(-1);
    expect(line).toMatchObject({
      clientIp: '127.0.0.1',
      decision: { action: 'deny', reason: 'no_policy_matched' },
    });
  });

  it('without spoofing headers the same peer is denied too, and an office address via a trusted proxy is allowed', async () => {
    expect(statusOf(await rawRequest(spoofGate.port, get('/x')))).toBe(403);
    // Only the configured trusted proxies' X-Forwarded-For is believed; the loopback peer is not one.
    spoofGate.sidecar.install(
      testConfig(
        { upstream: { url: upstream.url }, trustedProxies: ['127.0.0.1'], policies: [{ name: 'office' }] },
        { office: { decision: 'bypass', include: [{ ipRanges: ['198.51.100.0/24'] }] } },
      ),
    );
    const status = statusOf(
      await rawRequest(spoofGate.port, get('/x', 'X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\n')),
    );
    expect(status).toBe(200);
    expect(spoofGate.records().at(-1)).toMatchObject({
      clientIp: '198.51.100.7',
      decision: { action: 'bypass', reason: 'ip_in_range' },
    });
    // Right to left: the first untrusted hop decides, whatever the client prepended.
    const spoofed = statusOf(
      await rawRequest(spoofGate.port, get('/x', 'X-Forwarded-For: 198.51.100.7, 203.0.113.9\r\n')),
    );
    expect(spoofed).toBe(403);
    expect(spoofGate.records().at(-1)).toMatchObject({ clientIp: '203.0.113.9' });
  });
});

describe('audit mode and deny by default, end to end', () => {
  it('logs the would-be decision of an audit policy and enforces only the others', async () => {
    const local = await startSidecar(
      testConfig(
        { upstream: { url: upstream.url }, policies: [{ name: 'admin-for-all' }, { name: 'public' }] },
        {
          public: PUBLIC,
          'admin-for-all': { decision: 'bypass', mode: 'audit', include: [{ paths: ['/admin/**'] }] },
        },
      ),
    );
    try {
      const before = upstream.seen.length;
      expect(statusOf(await rawRequest(local.port, get('/admin/x')))).toBe(403);
      expect(upstream.seen.length).toBe(before);
      expect(local.records().at(-1)).toMatchObject({
        decision: { action: 'deny', policy: null, reason: 'no_policy_matched' },
        auditDecision: {
          action: 'bypass',
          policy: 'admin-for-all',
          rule: 'include[0].paths',
          reason: 'path_matched',
        },
      });
      expect(statusOf(await rawRequest(local.port, get('/x')))).toBe(200);
      expect(local.records().at(-1)).toMatchObject({
        decision: { action: 'bypass', policy: 'public' },
        auditDecision: { action: 'bypass', policy: 'public' },
      });
    } finally {
      await local.close();
    }
  });

  it('an application without policies denies everything; one that needs sign-in answers 401 with a challenge', async () => {
    const local = await startSidecar(testConfig({ upstream: { url: upstream.url }, policies: [] }));
    try {
      const response = await rawRequest(local.port, get('/x'));
      expect(statusOf(response)).toBe(403);
      expect(local.records().at(-1)).toMatchObject({ decision: { action: 'deny', reason: 'no_policies' } });
      local.sidecar.install(
        testConfig(
          { upstream: { url: upstream.url }, policies: [{ name: 'staff' }] },
          { staff: { decision: 'allow', include: [{ emailDomains: ['example.com'] }] } },
        ),
      );
      const challenged = await rawRequest(local.port, get('/x'));
      expect(statusOf(challenged)).toBe(401);
      expect(challenged.toLowerCase()).toContain('www-authenticate: bearer realm="gatehouse"');
      expect(local.records().at(-1)).toMatchObject({
        error: 'authentication_required',
        decision: { reason: 'login_required', policy: 'staff' },
      });
    } finally {
      await local.close();
    }
  });
});
