import { describe, expect, it } from 'vitest';
import { parseAuditFlags } from '../../audit/src/audit-command.ts';
import { UsageError } from '../../lib/args.ts';
import { parseOperatorFlags } from '../../operator/src/cli/operator-command.ts';
import { parseRevokeFlags } from '../../operator/src/cli/revoke-flags.ts';
import { parseServiceTokenFlags } from '../../sidecar/src/cli/service-token-command.ts';
import { parseValidateFlags } from '../../sidecar/src/cli/validate-command.ts';

const ENV = { hostname: 'host-1' };
const NOW = Date.parse('2026-12-01T12:00:00Z');

/** Every refusal is a UsageError (exit 2 with the usage) whose message names the problem. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      return (error as Error).message;
    throw error;
  }
  throw new Error('accepted');
}

describe('gatehouse operator flags', () => {
  it.each([
    [
      'defaults',
      [],
      { podNamespace: 'gh' },
      { namespace: 'gh', identity: 'host-1', concurrency: 4, graceMs: 10_000, delayMs: 5_000 },
    ],
    ['no shutdown delay', ['--shutdown-delay', '0s'], {}, { delayMs: 0 }],
    [
      'flags win over the pod',
      ['--namespace', 'x', '--identity', 'op-2'],
      { podName: 'p', podNamespace: 'gh' },
      { namespace: 'x', identity: 'op-2' },
    ],
    [
      'pod name as identity',
      [],
      { podName: 'operator-7' },
      { namespace: 'gatehouse-system', identity: 'operator-7' },
    ],
    [
      'listen addresses',
      ['--listen', '127.0.0.1:1', '--admin-listen', '2'],
      {},
      { deliveryListen: { host: '127.0.0.1', port: 1 }, adminListen: { host: '', port: 2 } },
    ],
    [
      'listen addresses by default: every IPv6 and IPv4 address',
      [],
      {},
      { deliveryListen: { host: '', port: 8443 }, adminListen: { host: '', port: 9090 } },
    ],
    [
      'listen addresses: IPv4 only, IPv6 only',
      ['--listen', '0.0.0.0:1', '--admin-listen', '[::]:2'],
      {},
      { deliveryListen: { host: '0.0.0.0', port: 1 }, adminListen: { host: '::', port: 2 } },
    ],
  ] as const)('%s', (_name, argv, env, expected) => {
    expect(parseOperatorFlags(argv, { ...ENV, ...env })).toMatchObject(expected);
  });

  it('self-managed TLS names the Service in its namespace', () => {
    const flags = parseOperatorFlags(['--namespace', 'ops', '--tls-hosts', 'op.example'], ENV);
    expect(flags.tls).toMatchObject({
      managed: {
        secretName: 'gatehouse-operator-tls',
        settings: { hosts: expect.arrayContaining(['gatehouse-operator.ops.svc', 'op.example']) },
      },
    });
  });

  it('certificate files are paths, read later', () => {
    const flags = parseOperatorFlags(['--tls-cert-file', 'c.pem', '--tls-key-file', 'k.pem'], ENV);
    expect(flags.tls).toEqual({ files: { cert: 'c.pem', key: 'k.pem' } });
  });

  it.each([
    [['--tls-cert-file', 'c.pem'], '--tls-cert-file and --tls-key-file go together'],
    [['--tls-cert-file', 'c', '--tls-key-file', 'k', '--injection-config', 'i'], 'needs --tls-ca-file'],
    [['--signing-key-rotation', '10h', '--signing-key-overlap', '6h'], 'at most half'],
    [['--concurrency', '0'], '--concurrency'],
    [['--resync', 'soon'], '--resync'],
    [['--listen', 'nope:x'], '--listen'],
    [['--shutdown-delay', '16s'], '--shutdown-delay: at most 15s'],
    [['--unknown'], "Unknown option '--unknown'"],
  ])('%j is refused', (argv, message) => {
    expect(refusal(() => parseOperatorFlags(argv, ENV))).toContain(message);
  });
});

describe('gatehouse revoke flags', () => {
  it.each([
    [
      'by email',
      ['--user', ' ada@example.com '],
      { target: { user: 'ada@example.com' }, who: 'ada@example.com', waitMs: 10_000, format: 'text' },
    ],
    [
      'by subject and provider',
      ['--sub', 's-1', '--provider', 'corp'],
      { target: { subject: 's-1', provider: 'corp' }, who: 'subject s-1 (provider corp)' },
    ],
    [
      'apps, namespace, format and output file',
      ['--user', 'a@b.c', '--app', 'x', '--app', 'ns/y', '-n', 'team', '--format', 'json', '-o', 'out.json'],
      { apps: ['x', 'ns/y'], namespace: 'team', format: 'json', output: 'out.json' },
    ],
    [
      'before in UTC',
      ['--user', 'a@b.c', '--before', '2026-11-21T08:00:00+01:00'],
      { before: '2026-11-21T07:00:00.000Z' },
    ],
    ['no wait', ['--user', 'a@b.c', '--wait', '0s'], { waitMs: 0 }],
    ['confirmed by each sidecar by default', ['--user', 'a@b.c'], { confirm: 'sidecars' }],
    ['confirmed by the config', ['--user', 'a@b.c', '--confirm', 'config'], { confirm: 'config' }],
    [
      'a revocation made before, confirmed again',
      ['--check', 'alice-example-com-7qz4k', '--wait', '30s', '--format', 'json'],
      { check: 'alice-example-com-7qz4k', waitMs: 30_000, format: 'json', confirm: 'sidecars' },
    ],
    [
      'a revocation file confirmed again from the replicas',
      ['--check', 'alice-example-com-7qz4k', '--revocations-dir', '/srv/revocations'],
      { check: 'alice-example-com-7qz4k', directory: { path: '/srv/revocations' } },
    ],
    [
      'one session by its id',
      ['--session', 'Qx7_k2-9aZbC3dEfGh1', '--app', 'corp/wiki'],
      { target: { session: 'Qx7_k2-9aZbC3dEfGh1' }, who: 'session Qx7_k2-9aZbC3dEfGh1' },
    ],
    [
      "the sessions of one of the provider's sessions",
      ['--provider-session', "7c9e'1 f", '--provider', 'okta', '--before', '2026-11-21T07:00:00Z'],
      {
        target: { providerSession: "7c9e'1 f", provider: 'okta' },
        who: "provider session 7c9e'1 f (provider okta)",
        before: '2026-11-21T07:00:00.000Z',
      },
    ],
    [
      'a session id that begins with a dash (one in 64 do), as the audit prints it',
      ['--session', '-x7_k2-9aZbC3dEfGh1', '--app', 'corp/wiki'],
      { target: { session: '-x7_k2-9aZbC3dEfGh1' }, apps: ['corp/wiki'] },
    ],
    [
      'a provider session id and a subject that begin with a dash',
      ['--provider-session', '-Kp2', '--provider', 'corp'],
      { target: { providerSession: '-Kp2', provider: 'corp' } },
    ],
    ['a subject that begins with a dash', ['--sub', '-s1'], { target: { subject: '-s1' } }],
    ['a reason that begins with a dash', ['--user', 'a@b.c', '--reason', '- laptop'], { reason: '- laptop' }],
  ] as const)('%s', (_name, argv, expected) => {
    expect(parseRevokeFlags(argv)).toMatchObject(expected);
  });

  it.each([
    [[], 'give one of --user <email>, --sub <subject>, --session <id> and --provider-session <sid>'],
    [
      ['--user', 'a@b.c', '-o', 'name'],
      '-o/--output is the file to write; for the format give --format name',
    ],
    [['--user', 'a@b.c', '--format', 'yaml'], '--format must be text, json or name'],
    [
      ['--check', 'alice-example-com-7qz4k', '--user', 'a@b.c', '--app', 'wiki'],
      '--check confirms an AccessRevocation that exists; it does not go with --user, --app',
    ],
    [['--check', 'corp/alice'], '--check "corp/alice" is not the name of an AccessRevocation'],
    [['--check', 'Alice_1'], '--check "Alice_1" is not the name of an AccessRevocation'],
    [['--user', 'a@b.c', '--sub', 's'], 'give one of --user <email>, --sub <subject>'],
    [['--session', 'Qx7_k2-9aZbC3dEfGh1', '--user', 'a@b.c'], 'give one of --user <email>'],
    [['--session', 'Qx7_k2-9aZbC3dEfGh1', '--provider-session', 'p'], 'give one of --user <email>'],
    [['--session', 'short'], '--session must be a session id: 16 to 64 letters'],
    [['--session', 'Qx7_k2-9aZbC3dEf Gh1'], '--session must be a session id'],
    [
      ['--session', 'Qx7_k2-9aZbC3dEfGh1', '--provider', 'p'],
      '--provider goes with --sub or --provider-session',
    ],
    [
      ['--session', 'Qx7_k2-9aZbC3dEfGh1', '--before', '2026-11-21T07:00:00Z'],
      '--before does not go with --session',
    ],
    [['--provider-session', 'p1'], '--provider-session needs --provider <name>'],
    [['--provider-session', '', '--provider', 'okta'], '--provider-session must be 1 to 255 characters'],
    [['--provider-session', 'p1', '--provider', 'x'.repeat(64)], '--provider must be 1 to 63 characters'],
    [['--user', 'not-an-email'], '--user must be an email address'],
    [['--user', 'a@b.c', '--provider', 'p'], '--provider goes with --sub or --provider-session'],
    [['--user', 'a@b.c', '--reason', 'x'.repeat(513)], '--reason is at most 512 characters'],
    [['--user', 'a@b.c', '--before', 'yesterday'], '--before must be an RFC 3339 time'],
    [['--user', 'a@b.c', '--before', '2026-11-21T07:00:00'], 'would be read in this machine'],
    [['--user', 'a@b.c', '--before', '2062-11-21T07:00:00Z'], 'is in the future'],
    [['--user', 'a@b.c', '--wait', 'long'], '--wait'],
    [['--session', '--app', 'wiki'], "Option '--session' argument is ambiguous"],
    [
      ['--provider-session', '-n', 'team', '--provider', 'p'],
      "Option '--provider-session' argument is ambiguous",
    ],
  ])('%j is refused', (argv, message) => {
    expect(refusal(() => parseRevokeFlags(argv))).toContain(message);
  });

  it('takes a --before up to 5 minutes ahead of this clock (clocks drift), not later', () => {
    const ahead = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
    expect(parseRevokeFlags(['--user', 'a@b.c', '--before', ahead(4)], NOW)).toMatchObject({
      before: ahead(4),
    });
    expect(refusal(() => parseRevokeFlags(['--user', 'a@b.c', '--before', ahead(6)], NOW))).toContain(
      'is in the future',
    );
  });
});

describe('gatehouse audit flags', () => {
  it.each([
    [
      'sessions of a user from stdin',
      ['sessions', '--user', 'a@b.c'],
      { query: { kind: 'sessions', user: 'a@b.c' }, files: [], format: 'table' },
    ],
    [
      'ip with files',
      ['ip', '10.0.0.1', 'a.log', 'b.log.gz'],
      { query: { kind: 'ip', ip: '10.0.0.1' }, files: ['a.log', 'b.log.gz'] },
    ],
    [
      'requests by path, as json to a file',
      ['requests', '--path', '/admin/*', '--format', 'json', '-o', 'out.json'],
      { query: { kind: 'requests', path: '/admin/*' }, format: 'json', output: 'out.json' },
    ],
    [
      'a duration back from now',
      ['sessions', '--since', '24h'],
      { query: { range: { since: NOW - 86_400_000 } } },
    ],
    [
      'a date: its start in UTC, wherever the command runs',
      ['sessions', '--since', '2026-11-21'],
      { query: { range: { since: Date.UTC(2026, 10, 21) } } },
    ],
    [
      'a time with its offset',
      ['sessions', '--until', '2026-11-21T09:00:00.5+02:00'],
      { query: { range: { until: Date.UTC(2026, 10, 21, 7, 0, 0, 500) } } },
    ],
    [
      'the cluster, one namespace',
      ['sessions', '--cluster', '-n', 'apps', '--context', 'prod'],
      { cluster: { namespace: 'apps', context: 'prod' } },
    ],
    ['the cluster, every namespace', ['sessions', '--cluster', '-A', '-n', 'apps'], { cluster: {} }],
    [
      'burst setting',
      ['sessions', '--burst', '3/10s'],
      { anomalies: { burstCount: 3, burstWindowMs: 10_000 } },
    ],
  ] as const)('%s', (_name, argv, expected) => {
    expect(parseAuditFlags(argv, NOW)).toMatchObject(expected);
  });

  it.each([
    [[], 'which question: sessions, ip or requests?'],
    [['who'], 'unknown question "who"'],
    [['ip', 'not-an-ip'], 'audit ip needs an IPv4 or IPv6 address, a range or a private endpoint'],
    [['requests'], 'audit requests needs --path, --app or --user'],
    [['requests', '--app', 'a/b/c'], '--app is namespace/name'],
    [['sessions', '--user', 'a@b.c', '--sub', 's'], 'give --user or --sub, not both'],
    [['sessions', '--format', 'csv'], '--format must be table, json, jsonl or html'],
    [
      ['sessions', '--since', '2026-12-02T00:00:00Z', '--until', '2026-12-01T00:00:00Z'],
      '--since is after --until',
    ],
    [['sessions', '--burst', '1/60s'], '--burst must be'],
    [['sessions', '--cluster', 'a.log'], 'give files or --cluster, not both'],
    [['sessions', '--since', '2026-12-01T10:00:00'], 'with its offset'],
    [['sessions', '--since', '2026-12-01 10:00'], 'with its offset'],
    [['sessions', '--until', '2026-02-30'], 'must be an RFC 3339 time'],
    [['requests', '--path', 'admin/*'], '--path must begin with / as logged paths do'],
    [['requests', '--path', '/search?q=x'], '--path is a path without its query string'],
    [['requests', '--path', '/a/..%2fadmin'], 'encoded delimiter'],
    [['requests', '--path', '/../etc/passwd'], 'the sidecar refuses such a request'],
  ])('%j is refused', (argv, message) => {
    expect(refusal(() => parseAuditFlags(argv, NOW))).toContain(message);
  });

  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::1', '::1'],
  ])('ip %j is searched as the sidecar logs it: %j', (given, logged) => {
    expect(parseAuditFlags(['ip', given], NOW)).toMatchObject({ query: { ip: logged } });
  });

  it.each([
    ['/admin/*', '/admin/*'],
    ['/%61dmin/*', '/admin/*'],
    ['/admin//x', '/admin/x'],
    ['/public/../admin/x', '/admin/x'],
    ['/a/./b', '/a/b'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/caf%c3%a9*', '/caf%C3%A9*'],
    ['/a b', '/a%20b'],
    ['/*', '/*'],
  ])('--path %j is searched as the sidecar logs it: %j', (given, logged) => {
    expect(parseAuditFlags(['requests', '--path', given], NOW)).toMatchObject({ query: { path: logged } });
  });
});

describe('gatehouse validate and service-token flags', () => {
  it.each([
    [['dir'], { path: 'dir', recursive: false, format: 'json', secretsInCluster: false }],
    [
      ['app.yaml', '--application', 'wiki'],
      { path: 'app.yaml', recursive: false, application: 'wiki', format: 'json', secretsInCluster: false },
    ],
    [
      ['app.yaml', '--format', 'yaml', '-o', 'out.yaml'],
      { path: 'app.yaml', recursive: false, format: 'yaml', output: 'out.yaml', secretsInCluster: false },
    ],
    [['-', '--secrets-in-cluster'], { path: '-', recursive: false, format: 'json', secretsInCluster: true }],
    [['-R', 'repo'], { path: 'repo', recursive: true, format: 'json', secretsInCluster: false }],
    [['repo', '--recursive'], { path: 'repo', recursive: true, format: 'json', secretsInCluster: false }],
  ])('validate %j', (argv, expected) => {
    expect(parseValidateFlags(argv)).toEqual(expected);
  });

  it.each([[[]], [['a', 'b']]])('validate %j is refused', (argv) => {
    expect(refusal(() => parseValidateFlags(argv))).toBe('give one file or directory');
  });

  it('validate refuses an unknown format', () => {
    expect(refusal(() => parseValidateFlags(['a', '--format', 'toml']))).toBe(
      '--format must be json or yaml',
    );
  });

  it.each([
    [['create', 'ci-bot'], { id: 'ci-bot' }],
    [
      ['create', 'ci.bot_2', '--expires-at', '2027-01-01T00:00:00Z'],
      { id: 'ci.bot_2', expiresAt: '2027-01-01T00:00:00Z' },
    ],
    [
      ['create', 'ci', '--expires-at', '2027-01-01T09:00:00+09:00'],
      { id: 'ci', expiresAt: '2027-01-01T00:00:00Z' },
    ],
  ])('service-token %j', (argv, expected) => {
    expect(parseServiceTokenFlags(argv)).toEqual(expected);
  });

  it.each([
    [['list'], 'expected: create <id>'],
    [['create'], 'expected: create <id>'],
    [['create', 'bad id'], 'must match'],
    [['create', 'ok', '--expires-at', 'soon'], 'give an RFC 3339 time with its offset'],
    [['create', 'ok', '--expires-at', '2027-01-01T00:00:00'], 'would be read in this machine'],
    [['create', 'ok', '--expires-at', '2027-02-31T00:00:00Z'], 'give an RFC 3339 time'],
  ])('service-token %j is refused', (argv, message) => {
    expect(refusal(() => parseServiceTokenFlags(argv))).toContain(message);
  });
});
