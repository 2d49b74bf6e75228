import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runGatehouse } from '../helpers/sidecar-process.ts';

// `gatehouse explain` as a platform engineer runs it on the YAML they are about to apply: the
// decision, why, what the client gets, and every selector, with exit 0 when the request goes
// on and 1 when it is refused.

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-'));
const doc = (kind: string, name: string, spec: unknown, apiVersion = 'gatehouse.dev/v1alpha1') => ({
  apiVersion,
  kind,
  metadata: { name, namespace: 'monitoring' },
  ...(kind === 'Secret' ? { stringData: spec } : { spec }),
});
/** Writes these documents as one YAML file of the test's folder; its path. */
const writeDocs = (name: string, docs: readonly unknown[]): string => {
  const path = join(dir, name);
  writeFileSync(path, docs.map((d) => stringify(d)).join('---\n'));
  return path;
};
const FILE = writeDocs('grafana.yaml', [
  doc('AccessApplication', 'grafana', {
    hosts: ['grafana.example.com'],
    upstream: { url: 'http://127.0.0.1:3000' },
    policies: [
      { name: 'health' },
      { name: 'deploys' },
      { name: 'contractors' },
      { name: 'sre' },
      { name: 'finance-trial' },
    ],
    authentication: {
      externalUrl: 'https://grafana.example.com',
      identityProviders: [
        {
          name: 'corp',
          issuer: 'https://idp.example.com',
          clientId: 'grafana',
          clientSecretRef: { name: 'idp', key: 'secret' },
        },
      ],
      serviceTokens: {
        tokens: [
          { id: 'ci', secretHash: `sha256:${'a'.repeat(64)}` },
          { id: 'old', secretHash: `sha256:${'b'.repeat(64)}`, expiresAt: '2020-01-01T00:00:00Z' },
        ],
      },
    },
  }),
  doc('Secret', 'idp', { secret: 's3cret-value' }, 'v1'),
  doc('AccessPolicy', 'health', { decision: 'bypass', include: [{ paths: ['/api/health'] }] }),
  doc('AccessPolicy', 'deploys', {
    decision: 'service-auth',
    include: [{ serviceTokens: ['ci'] }],
    require: [{ methods: ['POST'] }],
  }),
  doc('AccessPolicy', 'contractors', { decision: 'deny', include: [{ groups: ['contractors'] }] }),
  doc('AccessPolicy', 'sre', {
    decision: 'allow',
    include: [{ groups: ['sre', 'platform'] }, { emails: ['cto@example.com'] }],
    require: [{ emailDomains: ['example.com'] }],
    exclude: [{ ipRanges: ['203.0.113.0/24'] }],
  }),
  doc('AccessPolicy', 'finance-trial', {
    decision: 'allow',
    mode: 'audit',
    include: [{ claim: { name: 'dept', equals: 'finance' } }],
  }),
]);

/** Runs `gatehouse explain FILE` with these arguments (one string, split at spaces, or several). */
const explain = (...args: string[]) =>
  runGatehouse(['explain', FILE, ...(args.length === 1 ? (args[0] as string).split(' ') : args)]);

/**
 * An application signed in to through one provider whose admin area (`/admin/**`) takes members of
 * `eng` under `needs`, a further selector, in policy `name`; engineers may use the rest.
 */
function adminAreaDocs(file: string, name: string, needs: Record<string, unknown>): string {
  return writeDocs(file, [
    doc('AccessApplication', 'admin', {
      hosts: ['admin.example.com'],
      upstream: { url: 'http://127.0.0.1:3000' },
      policies: [{ name }, { name: 'engineers' }],
      authentication: {
        externalUrl: 'https://admin.example.com',
        identityProviders: [
          {
            name: 'corp',
            issuer: 'https://idp.example.com',
            clientId: 'admin',
            clientSecretRef: { name: 'idp', key: 'secret' },
          },
        ],
      },
    }),
    doc('Secret', 'idp', { secret: 's3cret-value' }, 'v1'),
    doc('AccessPolicy', name, {
      decision: 'allow',
      include: [{ paths: ['/admin/**'] }],
      require: [{ groups: ['eng'] }, needs],
    }),
    doc('AccessPolicy', 'engineers', {
      decision: 'allow',
      include: [{ groups: ['eng'] }],
      exclude: [{ paths: ['/admin/**'] }],
    }),
  ]);
}

describe('gatehouse explain', () => {
  it('a user in an allowed group: exit 0, the policy and selector that allow, every selector, no secret', async () => {
    const out = await explain('--path /d/home --ip 198.51.100.7 --email Ann@Example.com --groups sre,dev');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'GET /d/home from 198.51.100.7, by Ann@Example.com (groups sre, dev; via corp)',
      'Decision  allow, by policy monitoring/sre at include[0].groups (group_listed)',
      'The request goes to the application, with the user\u2019s identity.',
    ]);
    expect(out.stdout).toMatch(/monitoring\/sre +allow +match +\u2190 decides\n/);
    expect(out.stdout).toMatch(/require\[0\]\.emailDomains +pass +email_domain_listed/);
    expect(out.stdout).toMatch(/exclude\[0\]\.ipRanges +fail +ip_not_in_range/);
    expect(out.stdout).toMatch(/monitoring\/deploys +service-auth +no match +never applies to a user/);
    expect(out.stdout).not.toContain('s3cret');
  });

  it('the same user from an excluded range: refused 403, exit 1, and why', async () => {
    const out = await explain('--path /d/home --ip 203.0.113.9 --email ann@example.com --groups sre');
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('Decision  deny, by default (no_policy_matched)');
    expect(out.stdout).toContain('The request gets 403 access_denied.');
    expect(out.stdout).toMatch(/exclude\[0\]\.ipRanges +pass +ip_in_range/);
  });

  it('without credentials: sign-in needed, a redirect for a page navigation; the bypass path goes on', async () => {
    const api = await explain('--path', '/d/home', '--ip', '198.51.100.7');
    expect(api.code).toBe(1);
    expect(api.stdout).toContain('Decision  deny, by policy monitoring/contractors (login_required)');
    expect(api.stdout).toContain('gets 401 authentication_required');
    expect(api.stdout).toMatch(/include\[0\]\.groups +unknown +identity_unknown/);
    const page = await explain('--path', '/d/home', '--ip', '198.51.100.7', '--navigation');
    expect(page.stdout).toContain('is sent to sign in (302 to the identity provider)');
    const health = await explain('--path', '/api/health', '--ip', '198.51.100.7');
    expect(health.code).toBe(0);
    expect(health.stdout).toContain(
      'Decision  bypass, by policy monitoring/health at include[0].paths (path_matched)',
    );
  });

  it('reads the path as the sidecar does, and refuses what the sidecar refuses before any policy', async () => {
    const dotted = await explain('--path', '/api/x/../health', '--ip', '198.51.100.7');
    expect(dotted.stdout).toContain('GET /api/x/../health (read as /api/health)');
    expect(dotted.code).toBe(0);
    const encoded = await explain('--path', '/api/..%2fhealth', '--ip', '198.51.100.7');
    expect(encoded.code).toBe(1);
    expect(encoded.stdout).toContain(
      'The sidecar refuses the request before any policy: 400 ambiguous_path (encoded delimiter',
    );
    const host = await explain(
      '--path /d/home --ip 10.0.0.1 --host Grafana.example.com:443 --email ann@example.com --groups sre',
    );
    expect(host.code).toBe(0);
    const other = await explain('--path /d/home --ip 10.0.0.1 --host grafana.internal');
    expect(other.code).toBe(1);
    expect(other.stdout).toContain(
      '421 unknown_host (the application serves grafana.example.com, not grafana.internal)',
    );
  });

  it('--peer and --forwarded-for: the client address found with spec.trustedProxies as the sidecar finds it, and why', async () => {
    const ann = '--path /d/home --email ann@example.com --groups sre';
    const via = '--peer 10.8.3.17 --forwarded-for 203.0.113.9';
    // The ingress is not a trusted proxy: it stands for the client, whom the exclude would refuse.
    const untrusted = await explain(`${ann} ${via}`);
    expect(untrusted.code).toBe(0);
    expect(untrusted.stdout.split('\n').slice(0, 2)).toEqual([
      'GET /d/home from 10.8.3.17, by ann@example.com (groups sre; via corp)',
      'Client address 10.8.3.17: the peer 10.8.3.17 is not in spec.trustedProxies, so its X-Forwarded-For is not read and the peer stands for the client (the sidecar writes forwarded_for_untrusted for it): list it there if it is your ingress or load balancer.',
    ]);
    // Listed: the header is read from the right, past the trusted hops, and the client is refused.
    const app = parse(readFileSync(FILE, 'utf8').split('---\n')[0] as string) as {
      spec: Record<string, unknown>;
    };
    app.spec.trustedProxies = ['10.8.0.0/16'];
    const trusting = writeDocs('grafana-trusting.yaml', [
      app,
      ...readFileSync(FILE, 'utf8')
        .split('---\n')
        .slice(1)
        .map((d) => parse(d)),
    ]);
    const run = (args: string) => runGatehouse(['explain', trusting, ...args.split(' ')]);
    const listed = await run(
      `${ann} --peer 10.8.3.17 --forwarded-for 198.51.100.1,203.0.113.9,10.8.0.5 --format json`,
    );
    expect(listed.code).toBe(1);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      request: {
        clientIp: '203.0.113.9',
        clientAddress: { peer: '10.8.3.17', peerTrusted: true, clientIp: '203.0.113.9' },
      },
      decision: { action: 'deny' },
      answer: { status: 403 },
    });
    const direct = await run(`${ann} --peer ::ffff:10.9.0.1`);
    expect(direct.stdout).toContain(
      'Client address 10.9.0.1: the peer 10.9.0.1 itself: it sends no X-Forwarded-For.',
    );
    for (const [args, message] of [
      [`${ann} --ip 10.0.0.1 --peer 10.8.3.17`, 'give --ip (the client address) or --peer'],
      [`${ann} --forwarded-for 203.0.113.9`, '--forwarded-for needs --peer'],
      [`${ann} --peer ingress`, '--peer ingress is not an IPv4 or IPv6 address'],
    ] as const) {
      const usage = await explain(args);
      expect([args, usage.code]).toEqual([args, 2]);
      expect(usage.stderr).toContain(message);
    }
  });

  it('refuses the methods the sidecar refuses before any policy: TRACE, CONNECT, one its parser does not know (exit 1)', async () => {
    const refusal = (text: string) => `The sidecar refuses the request before any policy: ${text}.\n`;
    // The health path is open to everyone: only the method stands in the way.
    const trace = await explain('--path /api/health --ip 198.51.100.7 --method trace');
    expect([trace.code, trace.stdout]).toEqual([
      1,
      `TRACE /api/health\n${refusal('405 trace_not_supported (the application would echo the identity headers and the identity JWT to the caller)')}`,
    ]);
    const connect = await explain('--path /api/health --method CONNECT --format json');
    expect(connect.code).toBe(1);
    expect(JSON.parse(connect.stdout)).toMatchObject({
      path: null,
      refused: { status: 405, error: 'connect_not_supported' },
    });
    const track = await explain('--path /api/health --ip 198.51.100.7 --method TRACK');
    expect([track.code, track.stdout]).toEqual([
      1,
      `TRACK /api/health\n${refusal("400 bad_request (invalid_request_line: TRACK is not a method the sidecar's HTTP parser knows)")}`,
    ]);
    // Methods the parser knows go on to the policies as before.
    for (const method of ['OPTIONS', 'PROPFIND', 'QUERY']) {
      const known = await explain(`--path /api/health --ip 198.51.100.7 --method ${method}`);
      expect([method, known.code]).toEqual([method, 0]);
    }
  });

  it('a request the sidecar answers itself is no policy\u2019s: its readiness route, the keys for another Host, the reserved paths (exit 1)', async () => {
    const says = (text: string) =>
      `The sidecar answers it itself, before any policy: ${text}. It never reaches the application.\n`;
    // Before the Host is checked, and with no --ip although a policy tests addresses.
    const ready = await explain('--path /.gatehouse/ready --host 10.4.7.12:4180');
    expect([ready.code, ready.stdout]).toEqual([
      1,
      `GET /.gatehouse/ready\n${says('its readiness route (/.gatehouse/ready), for load balancers, whatever the Host: 200 while the sidecar is ready, 503 from SIGTERM on')}`,
    ]);
    // HAProxy's check: OPTIONS.
    const options = await explain('--path /.gatehouse/ready --method OPTIONS');
    expect([options.code, options.stdout]).toEqual([
      1,
      `OPTIONS /.gatehouse/ready\n${says('its readiness route (/.gatehouse/ready), for load balancers, whatever the Host: 200 while the sidecar is ready, 503 from SIGTERM on')}`,
    ]);
    const keys = await explain('--path /.gatehouse/jwks.json --host 127.0.0.1:4180 --format json');
    expect(keys.code).toBe(1);
    expect(JSON.parse(keys.stdout)).toMatchObject({
      request: { method: 'GET', target: '/.gatehouse/jwks.json', host: '127.0.0.1:4180' },
      path: null,
      answeredBySidecar: { route: 'keys' },
    });
    // The application's own Host, a sign-in route read through a dot segment, and a made-up path.
    for (const args of [
      '--path /.gatehouse/jwks.json --host grafana.example.com',
      '--path /d/../.gatehouse/login',
      '--path /.gatehouse/nothing-here --method post',
    ]) {
      const answer = await explain(args);
      expect([args, answer.code]).toEqual([args, 1]);
      expect(answer.stdout, args).toContain(
        says(
          'a path under its reserved prefix /.gatehouse/ (sign-in, callback, sign-out, the keys, the identity document, the session page; 404 for any other path there, or another method)',
        ),
      );
    }
    // What the sidecar refuses first is refused here first: the Host, then the credentials.
    const post = await explain('--path /.gatehouse/jwks.json --method post --host 10.4.7.12');
    expect(post.stdout).toContain('421 unknown_host');
    const token = await explain('--path /.gatehouse/login --service-token nope');
    expect([token.code, token.stderr]).toEqual([
      2,
      'gatehouse explain: the application has no service token nope (it has ci, old): the sidecar refuses the credential before any policy\n',
    ]);
    // Past the reserved paths, the policies as before: --ip still needed.
    expect((await explain('--path /gatehouse/login')).code).toBe(2);
  });

  it('an application under a path of a shared host, and one that authenticates nobody: their reserved paths', async () => {
    const app = (name: string, authentication: unknown) =>
      writeDocs(`${name}.yaml`, [
        doc('AccessApplication', name, {
          hosts: ['tools.example.com'],
          upstream: { url: 'http://127.0.0.1:3000' },
          policies: [{ name: 'open' }],
          ...(authentication === undefined ? {} : { authentication }),
        }),
        doc('AccessPolicy', 'open', { decision: 'bypass', include: [{ everyone: true }] }),
      ]);
    const shared = app('shared', {
      externalUrl: 'https://tools.example.com/grafana',
      serviceTokens: { tokens: [{ id: 'ci', secretHash: `sha256:${'a'.repeat(64)}` }] },
    });
    const nobody = app('nobody', undefined);
    const run = async (file: string, args: string) =>
      (await runGatehouse(['explain', file, ...args.split(' ')])).stdout;
    expect(await run(shared, '--path /grafana/.gatehouse/login')).toContain(
      'a path under its reserved prefix /grafana/.gatehouse/ (sign-in,',
    );
    expect(await run(shared, '--path /.gatehouse/jwks.json')).toContain(
      'a path under the root\u2019s reserved prefix /.gatehouse/: 404 (the application\u2019s routes are under /grafana/.gatehouse/)',
    );
    expect(await run(shared, '--path /.gatehouse/jwks.json --host 10.0.0.1')).toContain(
      'the public keys of the identity JWT (/.gatehouse/jwks.json), for a Host that is not the application\u2019s',
    );
    expect(await run(shared, '--path /grafana/d/home')).toContain('Decision  bypass');
    expect(await run(nobody, '--path /.gatehouse/login')).toContain(
      '404 (the application authenticates nobody, so it has no sign-in routes)',
    );
    expect(await run(nobody, '--path /.gatehouse/jwks.json --host 10.0.0.1')).toContain('421 unknown_host');
    expect(await run(nobody, '--path /.gatehouse/ready --host 10.0.0.1')).toContain('its readiness route');
  });

  it('a service token: service-auth for its method only; an unknown or expired token never reaches the policies', async () => {
    const post = await explain('--path /api/dashboards --method post --ip 10.0.0.1 --service-token ci');
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('POST /api/dashboards from 10.0.0.1, by service token ci');
    expect(post.stdout).toContain('with the service\u2019s identity');
    const get = await explain('--path', '/api/dashboards', '--ip', '10.0.0.1', '--service-token', 'ci');
    expect(get.code).toBe(1);
    expect(get.stdout).toContain('gets 403 access_denied');
    const unknown = await explain('--path', '/x', '--ip', '10.0.0.1', '--service-token', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'gatehouse explain: the application has no service token nope (it has ci, old): the sidecar refuses the credential before any policy\n',
    );
    const expired = await explain('--path', '/x', '--ip', '10.0.0.1', '--service-token', 'old');
    expect(expired.stderr).toContain('service token old expired at 2020-01-01T00:00:00.000Z');
  });

  it('a claim selector sees what a session keeps of the ID token: the email as a claim too', async () => {
    const policies = join(dir, 'claims.yaml');
    const yaml = readFileSync(FILE, 'utf8');
    writeFileSync(
      policies,
      yaml.replace(
        'include:\n    - claim:\n        name: dept\n        equals: finance',
        'include:\n    - claim:\n        name: email\n        equals: fay@example.com',
      ),
    );
    const out = await runGatehouse([
      'explain',
      policies,
      ...'--path /d/x --ip 10.0.0.1 --email fay@example.com'.split(' '),
    ]);
    expect(out.stdout).toContain(
      'With the audit policies enforced: allow, by policy monitoring/finance-trial at include[0].claim (claim_matched).',
    );
    expect(out.stdout.split('\n')[0]).toBe(
      'GET /d/x from 10.0.0.1, by fay@example.com (no groups; via corp)',
    );
  });

  it('says what the audit policies would decide, and JSON for scripts', async () => {
    const out = await explain(
      '--path /d/x --ip 10.0.0.1 --email fay@example.com --claim dept=finance --format json',
    );
    expect(out.code).toBe(1);
    const answer = JSON.parse(out.stdout);
    expect(answer).toMatchObject({
      request: { method: 'GET', target: '/d/x', clientIp: '10.0.0.1' },
      path: '/d/x',
      caller: { kind: 'user', email: 'fay@example.com', idp: 'corp', claims: { dept: 'finance' } },
      decision: { action: 'deny', policy: null, reason: 'no_policy_matched' },
      audit: {
        action: 'allow',
        policy: 'monitoring/finance-trial',
        rule: 'include[0].claim',
        reason: 'claim_matched',
      },
      answer: { forwarded: false, status: 403, error: 'access_denied' },
    });
    expect(answer.policies.map((p: { name: string }) => p.name)).toEqual([
      'monitoring/health',
      'monitoring/contractors',
      'monitoring/sre',
      'monitoring/finance-trial',
      'monitoring/deploys',
    ]);
    const text = await explain('--path /d/x --ip 10.0.0.1 --email fay@example.com --claim dept=finance');
    expect(text.stdout).toContain(
      'With the audit policies enforced: allow, by policy monitoring/finance-trial at include[0].claim (claim_matched).',
    );
    expect(text.stdout).toMatch(
      /monitoring\/finance-trial +allow +match +audit, \u2190 would decide \(audit\)/,
    );
  });

  it.each([
    [
      ['--path', '/x'],
      2,
      'give --ip <address> (or --peer <address>, the address the request comes from): a policy of the application tests the client address (ipRanges)',
    ],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--email', 'a@example.com', '--idp', 'okta'],
      2,
      "--idp okta is not one of the application's identity providers (corp)",
    ],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--service-account', 'jobs/ci'],
      2,
      'the application does not take ServiceAccount tokens',
    ],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--email', 'a@example.com', '--service-token', 'ci'],
      2,
      'give one caller',
    ],
    [['--path', '/x', '--ip', '10.0.0.999'], 2, '--ip 10.0.0.999 is not an IPv4 or IPv6 address'],
    [['--ip', '10.0.0.1'], 2, 'give --path <path>'],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--email', 'a@example.com', '--claim', 'groups=["sre"]'],
      2,
      '--claim groups: a session keeps no such claim (the groups claim of the provider: give --groups)',
    ],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--email', 'a@example.com', '--claim', 'nonce=n-1'],
      2,
      '--claim nonce: a session keeps no such claim (it describes the token, not the user)',
    ],
    [
      ['--path', '/x', '--ip', '10.0.0.1', '--email', 'a@example.com', '--claim', 'dept'],
      2,
      '--claim dept: give name=value',
    ],
  ])('%j is refused with exit %i', async (args, code, message) => {
    const out = await explain(...args);
    expect(out.code).toBe(code);
    expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  it('what kubectl get -o yaml writes of the live objects, without their Secrets: the same answer', async () => {
    const live = join(dir, 'live.yaml');
    const objects = readFileSync(FILE, 'utf8')
      .split('---\n')
      .map((text) => parse(text) as { kind: string; metadata: Record<string, unknown> })
      .filter((object) => object.kind !== 'Secret')
      .map((object) => ({
        ...object,
        metadata: {
          ...object.metadata,
          uid: 'a1b2',
          resourceVersion: '42',
          creationTimestamp: '2026-12-01T10:00:00Z',
        },
      }));
    writeFileSync(
      live,
      stringify({ apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } }),
    );
    const args = '--path /d/home --ip 198.51.100.7 --email ann@example.com --groups sre'.split(' ');
    const [fromFiles, fromLive] = await Promise.all([
      explain(...args),
      runGatehouse(['explain', live, ...args]),
    ]);
    expect(fromFiles.code).toBe(0);
    expect(fromLive.code).toBe(0);
    expect(fromLive.stdout).toBe(fromFiles.stdout);
    expect(fromLive.stderr).toBe(
      'gatehouse explain: taken to be in the cluster, not in these files: Secret idp\n',
    );
    // Piped, as kubectl get … -o yaml | gatehouse explain - …
    const piped = await runGatehouse(['explain', '-', ...args], readFileSync(live, 'utf8'));
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(fromFiles.stdout);
  });

  it('an application whose paths compare without regard to case: said, and decided so', async () => {
    const folding = writeDocs('folding.yaml', [
      doc('AccessApplication', 'files', {
        hosts: ['files.example.com'],
        upstream: { url: 'http://127.0.0.1:3000', caseInsensitivePaths: true },
        policies: [{ name: 'no-admin' }, { name: 'office' }],
      }),
      doc('AccessPolicy', 'no-admin', { decision: 'deny', include: [{ paths: ['/admin/**'] }] }),
      doc('AccessPolicy', 'office', { decision: 'bypass', include: [{ ipRanges: ['10.0.0.0/8'] }] }),
    ]);
    const out = await runGatehouse(['explain', folding, '--path', '/ADMIN/Users', '--ip', '192.0.2.7']);
    expect(out.code).toBe(1);
    expect(out.stdout.split('\n').slice(0, 4)).toEqual([
      'GET /ADMIN/Users from 192.0.2.7, by a caller without credentials',
      'Decision  deny, by policy monitoring/no-admin at include[0].paths (path_matched)',
      'The request gets 403 access_denied.',
      'Paths are compared without regard to case (spec.upstream.caseInsensitivePaths).',
    ]);
    const json = await runGatehouse([
      'explain',
      folding,
      '--path',
      '/ADMIN',
      '--ip',
      '192.0.2.7',
      '--format',
      'json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      caseInsensitivePaths: true,
      decision: { policy: 'monitoring/no-admin' },
    });
    // A spelling Windows reads as /admin/users is refused before any policy, as the sidecar does.
    const stripped = await runGatehouse(['explain', folding, '--path', '/admin./users', '--ip', '10.1.2.3']);
    expect(stripped.code).toBe(1);
    expect(stripped.stdout).toBe(
      'GET /admin./users\nThe sidecar refuses the request before any policy: 400 ambiguous_path (path segment ending in a dot or a space (Windows strips them)).\n',
    );
  });

  it('a request through a private endpoint: --private-endpoint, as the log names it', async () => {
    const partners = writeDocs('partners.yaml', [
      doc('AccessApplication', 'reports', {
        hosts: ['reports.example.com'],
        upstream: { url: 'http://127.0.0.1:3000' },
        proxyProtocol: { from: ['10.0.1.17/32'] },
        policies: [{ name: 'partner-a' }],
      }),
      doc('AccessPolicy', 'partner-a', {
        decision: 'bypass',
        include: [{ privateEndpoints: ['aws:vpce-0a1b2c3d4e5f60718'] }],
      }),
    ]);
    const through = await runGatehouse([
      'explain',
      partners,
      '--path',
      '/',
      '--private-endpoint',
      'aws:vpce-0a1b2c3d4e5f60718',
    ]);
    expect(through.code).toBe(0);
    expect(through.stdout.split('\n').slice(0, 2)).toEqual([
      'GET / from any address through aws:vpce-0a1b2c3d4e5f60718, by a caller without credentials',
      'Decision  bypass, by policy monitoring/partner-a at include[0].privateEndpoints (private_endpoint_listed)',
    ]);
    const other = await runGatehouse(['explain', partners, '--path', '/', '--private-endpoint', 'azure:7']);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/include\[0\]\.privateEndpoints +fail +private_endpoint_not_listed/);
    const none = await runGatehouse(['explain', partners, '--path', '/']);
    expect(none.code).toBe(1);
    const wrong = await runGatehouse(['explain', partners, '--path', '/', '--private-endpoint', 'vpce-0a1b']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      '--private-endpoint vpce-0a1b is none: give aws:<vpce id>, azure:<LinkID> or gcp:<connection id>',
    );
  });

  it('signedInWithin: --authenticated-ago; a user whose authentication is older is sent to sign in again', async () => {
    const admin = adminAreaDocs('admin.yaml', 'admins-recently', { signedInWithin: '10m' });
    const user = ['--path', '/admin/users', '--email', 'ann@example.com', '--groups', 'eng'];
    const recent = await runGatehouse(['explain', admin, ...user, '--authenticated-ago', '2m']);
    expect(recent.code).toBe(0);
    expect(recent.stdout).toMatch(/require\[1\]\.signedInWithin +pass +signed_in_within/);
    const hourOld = await runGatehouse([
      'explain',
      admin,
      ...user,
      '--authenticated-ago',
      '1h',
      '--navigation',
    ]);
    expect(hourOld.code).toBe(1);
    expect(hourOld.stdout).toMatch(/via corp; authenticated 360[01] s ago\)/);
    expect(hourOld.stdout).toContain(
      'is sent to sign in again (302; the provider is asked for a recent authentication, max_age=600): policy monitoring/admins-recently lets it through after a sign-in now',
    );
    expect(hourOld.stdout).toMatch(/require\[1\]\.signedInWithin +fail +signed_in_before/);
    const unknown = await runGatehouse(['explain', admin, ...user, '--format', 'json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      decision: { action: 'deny', policy: 'monitoring/admins-recently', reason: 'fresh_sign_in_required' },
      answer: { status: 401, error: 'fresh_sign_in_required' },
    });
    const bad = await runGatehouse(['explain', admin, ...user, '--authenticated-ago', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--authenticated-ago yesterday is not a duration such as 10m or 2h');
  });

  it('acrValues: --claim acr=...; a user whose sign-in is of another class is sent to sign in again, asked for those classes', async () => {
    const admin = adminAreaDocs('step-up.yaml', 'admins-strong', { acrValues: ['phrh', 'phr'] });
    const user = ['--path', '/admin/users', '--email', 'ann@example.com', '--groups', 'eng'];
    const strong = await runGatehouse(['explain', admin, ...user, '--claim', 'acr=phr']);
    expect(strong.code).toBe(0);
    expect(strong.stdout).toMatch(/require\[1\]\.acrValues +pass +acr_listed/);
    const password = await runGatehouse(['explain', admin, ...user, '--claim', 'acr=pwd', '--navigation']);
    expect(password.code).toBe(1);
    expect(password.stdout).toContain(
      'is sent to sign in again (302; the provider is asked for a stronger authentication, acr_values=phrh phr): policy monitoring/admins-strong lets it through after a sign-in of one of those classes',
    );
    expect(password.stdout).toMatch(/require\[1\]\.acrValues +fail +acr_not_listed/);
    const api = await runGatehouse(['explain', admin, ...user, '--format', 'json']);
    expect(api.code).toBe(1);
    expect(JSON.parse(api.stdout)).toMatchObject({
      decision: { action: 'deny', policy: 'monitoring/admins-strong', reason: 'fresh_sign_in_required' },
      answer: {
        status: 401,
        error: 'fresh_sign_in_required',
        says: 'gets 401 fresh_sign_in_required (acr_values=phrh phr; a page navigation, --navigation, is sent to sign in again): policy monitoring/admins-strong lets it through after a sign-in of one of those classes',
      },
    });
  });

  it('an invalid config: its errors as validate prints them, exit 3', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata: { name: x }\nspec: { hosts: [x.example.com] }\n',
    );
    const out = await runGatehouse(['explain', broken, '--path', '/']);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('spec.upstream: is required');
  });
});
