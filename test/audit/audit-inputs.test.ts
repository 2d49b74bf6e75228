import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SEARCH_RESPONSE_HEAD_BYTES } from '../../audit/src/json-array-lines.ts';
import { requestLine as fullRequestLine } from '../helpers/log-lines.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

// What analysts actually feed the audit: addresses in the provider's spelling, requests within
// one millisecond, a file given twice, exports of log stores, the wrong file, a cut gzip.

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-inputs-'));
const EMAIL = 'Grace.Hopper@Corp.Example';
const T0 = Date.parse('2026-11-21T07:00:00.000Z');

function requestLine(n: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const start = new Date(T0 + n * 1000).toISOString();
  return JSON.parse(
    fullRequestLine({
      start,
      end: start,
      requestId: `req-${String(n).padStart(4, '0')}`,
      seq: n,
      host: 'wiki.corp.example',
      uri: `/page-${n}`,
      bytesIn: 400,
      bytesOut: 10_000 + n,
      durationMs: 3.5,
      upstreamMs: 2,
      clientIp: '192.0.2.7',
      peerIp: '192.0.2.7',
      identity: { kind: 'user', sub: 'grace', email: EMAIL, idp: 'corp' },
      sessionId: 'S-grace',
      authMethod: 'oidc',
      decision: { action: 'allow', policy: 'staff', rule: 'include[0]', reason: 'email_listed' },
      ...over,
    }),
  ) as Record<string, unknown>;
}

function file(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const jsonl = (records: unknown[]): string => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
/** Lines as written: a string as it is, anything else as JSON. */
const lines = (records: unknown[]): string =>
  `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;

/** A Cloud Logging entry (a log sink's file, `gcloud logging read --format=json` through jq -c): the line's `time` is the entry's `timestamp`. */
function cloudLoggingEntry(r: unknown): Record<string, unknown> {
  const { time, ...payload } = r as Record<string, unknown>;
  return {
    insertId: `id-${String(payload.requestId ?? payload.type)}`,
    jsonPayload: payload,
    resource: { type: 'k8s_container', labels: { container_name: 'gatehouse', namespace_name: 'corp' } },
    timestamp: time,
    severity: 'DEFAULT',
    logName: 'projects/corp/logs/stdout',
    receiveTimestamp: '2026-11-23T00:00:00.123456789Z',
  };
}

/** A row of Azure Monitor's ContainerLogV2 table as a data export writes it: a JSON line is kept as an object. */
const azureRow = (r: unknown) => ({
  TimeGenerated: (r as { time?: string }).time,
  Computer: 'aks-nodepool1-0',
  ContainerName: 'gatehouse',
  PodNamespace: 'corp',
  LogMessage: r,
  LogSource: 'stdout',
});

/** A line of a CloudWatch Logs export to S3: the event's time, a space, the event (a Fluent Bit record). */
const cloudWatchExportLine = (r: unknown): string => {
  const time = (r as { time?: string }).time;
  return `${time} ${JSON.stringify({ log: `${JSON.stringify(r)}\n`, stream: 'stdout', kubernetes: { pod_name: 'wiki-1' } })}`;
};

const GRACE = file('grace.log', jsonl([requestLine(1), requestLine(2), requestLine(3)]));

async function sessionsOf(args: string[], stdin?: string) {
  const run = await runGatehouse(['audit', 'sessions', '--format', 'json', ...args], stdin);
  return {
    ...run,
    sessions: run.code === 0 ? (JSON.parse(run.stdout) as { requests: { uri: string }[] }[]) : [],
  };
}

describe('gatehouse audit reads what analysts give it', () => {
  it.each([
    ['lower case', 'grace.hopper@corp.example'],
    ['upper case', 'GRACE.HOPPER@CORP.EXAMPLE'],
    ['the provider spelling', EMAIL],
  ])('finds a user whatever the case of the address: %s', async (_what, user) => {
    const { code, sessions } = await sessionsOf(['--user', user, GRACE]);
    expect(code).toBe(0);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.requests).toHaveLength(3);
    const requests = await runGatehouse(['audit', 'requests', '--user', user, '--format', 'jsonl', GRACE]);
    expect(requests.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('orders requests within one millisecond by the sidecar sequence number', async () => {
    // Request ids that sort the other way round, as random ids do half the time.
    const same = { start: new Date(T0).toISOString(), end: new Date(T0).toISOString() };
    const path = file(
      'same-ms.log',
      jsonl([
        requestLine(4, { ...same, requestId: 'b-later-id', seq: 41, uri: '/admin/users?page=3' }),
        requestLine(5, { ...same, requestId: 'a-earlier-id', seq: 42, uri: '/admin/users?page=4' }),
      ]),
    );
    const { sessions } = await sessionsOf([path]);
    expect(sessions[0]?.requests.map((r) => r.uri)).toEqual(['/admin/users?page=3', '/admin/users?page=4']);
  });

  it('an ingress its sidecar did not trust: the addresses it stands for are said to be its own', async () => {
    // Every user seemed to come from the ingress; the sidecar had said why, once, in its log.
    const ingress = '10.8.3.17';
    const path = file(
      'behind-ingress.log',
      jsonl([
        {
          type: 'forwarded_for_untrusted',
          time: '2026-11-21T06:59:59.000Z',
          app: 'corp/wiki',
          peerIp: ingress,
          trustedProxies: 0,
          hint: 'list it',
        },
        requestLine(1, { clientIp: ingress, peerIp: ingress }),
        requestLine(2, {
          clientIp: ingress,
          peerIp: ingress,
          requestId: 'req-ada',
          identity: { kind: 'user', sub: 'ada', email: 'ada@corp.example', idp: 'corp' },
          sessionId: 'S-ada',
        }),
      ]),
    );
    const warning = `gatehouse audit: warning: corp/wiki: ${ingress} is a proxy its sidecar did not trust (forwarded_for_untrusted, 2026-11-21T06:59:59.000Z): requests through it carry ${ingress} as their clientIp, not their clients' addresses\n`;
    const ip = await runGatehouse(['audit', 'ip', ingress, path]);
    expect(ip.code).toBe(0);
    expect(ip.stderr).toBe(warning);
    expect(ip.stdout).toContain('ada@corp.example');
    const sessions = await runGatehouse(['audit', 'sessions', path]);
    expect(sessions.stderr).toBe(warning);
    // Without that line, nothing is said.
    const plain = await runGatehouse(['audit', 'ip', ingress, GRACE]);
    expect(plain.stderr).toBe('');
  });

  it('counts a request once when the same file is given twice, and says how many lines it dropped', async () => {
    const { code, sessions, stderr } = await sessionsOf(['--user', EMAIL, GRACE, GRACE]);
    expect(code).toBe(0);
    expect(sessions[0]?.requests).toHaveLength(3);
    expect(stderr).toContain('3 duplicate lines dropped');
  });

  it.each([
    [
      'a Splunk JSON export (result._raw)',
      (r: unknown) => ({ preview: false, result: { _raw: JSON.stringify(r), host: 'node-1' } }),
    ],
    ['Splunk raw events (_raw)', (r: unknown) => ({ _raw: JSON.stringify(r), _time: '2026-11-21' })],
    ['Elasticsearch hits as NDJSON (_source)', (r: unknown) => ({ _index: 'logs', _id: 'x', _source: r })],
    [
      "Fluent Bit's records, or Docker's json-file (log)",
      (r: unknown) => ({ log: `${JSON.stringify(r)}\n`, stream: 'stdout', time: '2026-11-21T07:00:01.5Z' }),
    ],
    [
      'Fluent Bit records of the runtime log file it did not parse (log, CRI framing)',
      (r: unknown) => ({ log: `2026-11-21T07:00:01.123456789Z stdout F ${JSON.stringify(r)}` }),
    ],
    [
      'Vector events (message)',
      (r: unknown) => ({ message: JSON.stringify(r), kubernetes: { pod_name: 'p' } }),
    ],
    [
      "Loki's JSON lines (line)",
      (r: unknown) => ({ labels: { app: 'wiki' }, line: JSON.stringify(r), timestamp: 't' }),
    ],
    ['an OpenTelemetry export (body)', (r: unknown) => ({ body: JSON.stringify(r), severity_text: 'INFO' })],
    ['Cloud Logging entries, the line\u2019s time on the entry (jsonPayload)', cloudLoggingEntry],
    [
      'Cloud Logging entries of a line not read as JSON (textPayload)',
      (r: unknown) => ({ insertId: 'i', textPayload: JSON.stringify(r), timestamp: '2026-11-21T07:00:01Z' }),
    ],
    ['Azure Monitor ContainerLogV2 rows (LogMessage)', azureRow],
    [
      'Azure Monitor ContainerLogV2 rows of a line kept as text (LogMessage)',
      (r: unknown) => ({ TimeGenerated: '2026-11-21T07:00:01Z', LogMessage: JSON.stringify(r) }),
    ],
    [
      'Azure Monitor ContainerLog rows (LogEntry)',
      (r: unknown) => ({
        TimeGenerated: '2026-11-21T07:00:01Z',
        LogEntry: JSON.stringify(r),
        LogEntrySource: 'stdout',
      }),
    ],
    ['a CloudWatch Logs export to S3 (a time before each event)', cloudWatchExportLine],
    ['kubectl logs --timestamps', (r: unknown) => `2026-11-21T07:00:01.123456789Z ${JSON.stringify(r)}`],
    [
      'kubectl logs --prefix (every replica at once)',
      (r: unknown) => `[pod/wiki-7c9d-x2/gatehouse] ${JSON.stringify(r)}`,
    ],
    [
      'kubectl logs --prefix --timestamps',
      (r: unknown) => `[pod/wiki-7c9d-x2/gatehouse] 2026-11-21T07:00:01.123456789Z ${JSON.stringify(r)}`,
    ],
  ])('reads %s, whatever the question', async (_what, wrap) => {
    const path = file(`export-${Math.random()}.log`, lines([1, 2, 3].map((n) => wrap(requestLine(n)))));
    const { code, sessions } = await sessionsOf(['--user', 'grace.hopper@corp.example', path]);
    expect(code).toBe(0);
    expect(sessions[0]?.requests).toHaveLength(3);
    // The questions whose search looks for a quoted value (in _raw the quotes are escaped).
    const bySub = await sessionsOf(['--sub', 'grace', path]);
    expect(bySub.sessions[0]?.requests).toHaveLength(3);
    const answers = async (args: string[]) => {
      const run = await runGatehouse(['audit', ...args, '--format', 'json', path]);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      return JSON.parse(run.stdout) as { requests?: number; uri?: string }[];
    };
    expect(await answers(['ip', '192.0.2.7'])).toEqual([expect.objectContaining({ requests: 3 })]);
    expect(await answers(['requests', '--app', 'corp/wiki'])).toHaveLength(3);
    expect((await answers(['requests', '--path', '/page-2'])).map((r) => r.uri)).toEqual(['/page-2']);
  });

  it.each<[string, (r: unknown) => unknown]>([
    ['Cloud Logging entries, newest first as gcloud logging read gives them', cloudLoggingEntry],
    ['a CloudWatch Logs export to S3, whose files are in no order', cloudWatchExportLine],
  ])('reads %s: the session whole, its sign-in timed, over more than a day', async (_what, wrap) => {
    // An hour between requests for 30 hours: read in the order given, a session silent for 12
    // hours of log time would be closed and its later requests split off.
    const signIn = {
      type: 'login_succeeded',
      time: new Date(T0).toISOString(),
      app: 'corp/wiki',
      requestId: 'login-1',
      clientIp: '192.0.2.7',
      userAgent: 'Firefox',
      provider: 'corp',
      sub: 'grace',
      email: EMAIL,
      sessionId: 'S-grace',
    };
    const hourly = Array.from({ length: 30 }, (_, i) => requestLine(i * 3600 + 1, { uri: `/hour-${i}` }));
    const path = file(
      `newest-first-${Math.random()}.log`,
      lines([signIn, ...hourly].map((r) => wrap(r)).reverse()),
    );
    for (const args of [[path], ['--user', EMAIL, path]]) {
      const { code, stderr, sessions } = await sessionsOf(args);
      expect(code).toBe(0);
      expect(sessions).toHaveLength(1);
      const [session] = sessions as { login: { time: string } | null; requests: { uri: string }[] }[];
      expect(session?.login?.time).toBe('2026-11-21T07:00:00.000Z');
      expect(session?.requests.map((r) => r.uri)).toEqual(hourly.map((_, i) => `/hour-${i}`));
      if (args.length === 1) expect(stderr).toMatch(/not in time order.*sorted/);
      else expect(stderr).toBe('');
    }
    const requests = await runGatehouse([
      'audit',
      'requests',
      '--app',
      'corp/wiki',
      '--format',
      'jsonl',
      path,
    ]);
    expect(requests.code).toBe(0);
    const uris = requests.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { uri: string }).uri);
    expect(uris).toEqual(hourly.map((_, i) => `/hour-${i}`));
  });

  it.each([
    [
      'a UTF-8 byte order mark (an editor, Set-Content -Encoding UTF8)',
      (t: string) => Buffer.from(`\ufeff${t}`),
    ],
    [
      'UTF-16LE with its mark (Windows PowerShell 5.1: kubectl logs ... > file)',
      (t: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')]),
    ],
    [
      'UTF-16BE with its mark',
      (t: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()]),
    ],
    ['Windows line ends (CRLF)', (t: string) => Buffer.from(t.replaceAll('\n', '\r\n'))],
  ])('reads a file saved on Windows: %s, every line', async (_what, encode) => {
    const text = jsonl([requestLine(1, { uri: '/caf\u00e9-\u{1f600}' }), requestLine(2), requestLine(3)]);
    const saved = file(`windows-${Math.random()}.log`, encode(text));
    const zipped = file(`windows-${Math.random()}.log.gz`, gzipSync(encode(text)));
    for (const path of [saved, zipped]) {
      const { code, stderr, sessions } = await sessionsOf(['--user', EMAIL, path]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(sessions[0]?.requests.map((r) => r.uri)).toEqual(['/caf\u00e9-\u{1f600}', '/page-2', '/page-3']);
    }
  });

  it('reads the line after the hole a file truncated under its writer begins with (copytruncate)', async () => {
    // The sidecar's stdout redirected to a file (>) that logrotate copied and truncated: the next
    // write lands at the old offset, and the file begins with that many NUL bytes.
    const text = Buffer.concat([
      Buffer.alloc(64 * 1024 + 17),
      Buffer.from(jsonl([requestLine(1), requestLine(2)])),
    ]);
    const { code, stderr, sessions } = await sessionsOf(['--user', EMAIL, file('copytruncate.log', text)]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(sessions[0]?.requests.map((r) => r.uri)).toEqual(['/page-1', '/page-2']);
  });

  it.each([
    ['pretty-printed', (records: unknown[]) => JSON.stringify(records, null, 2)],
    ['compact, gzipped', (records: unknown[]) => gzipSync(JSON.stringify(records))],
    ['of the lines as text', (records: unknown[]) => JSON.stringify(records.map((r) => JSON.stringify(r)))],
  ])('reads a JSON array export (%s) as it reads the same lines one per line', async (how, make) => {
    const records = [requestLine(1), requestLine(2), requestLine(3)];
    const name = `array-${how.replaceAll(/\W/g, '-')}.json${how.includes('gzip') ? '.gz' : ''}`;
    const array = await sessionsOf(['--user', EMAIL, file(name, make(records))]);
    const plain = await sessionsOf(['--user', EMAIL, GRACE]);
    expect(array.stderr).toBe('');
    expect(array.code).toBe(0);
    expect(array.sessions).toEqual(plain.sessions);
    expect(array.sessions[0]?.requests).toHaveLength(3);
  });

  /** A search response as Elasticsearch and OpenSearch write it, with decoys of the name hits around. */
  const searchResponse = (records: unknown[], scroll: string) => ({
    _scroll_id: scroll,
    took: 3,
    timed_out: false,
    note: 'hits',
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0, hits: [] },
    hits: {
      total: { value: records.length, relation: 'eq' },
      max_score: 1,
      hits: records.map((r, i) => ({ _index: 'logs', _id: `${scroll}-${i}`, _score: 1, _source: r })),
    },
    aggregations: { hits: { buckets: [{ key: 'x', hits: { hits: [{ _source: requestLine(9) }] } }] } },
  });

  it.each([
    ['one, compact', (a: unknown[], b: unknown[]) => JSON.stringify(searchResponse([...a, ...b], 's1'))],
    [
      'two scroll pages, pretty-printed',
      (a: unknown[], b: unknown[]) =>
        `${JSON.stringify(searchResponse(a, 's1'), null, 2)}\n${JSON.stringify(searchResponse(b, 's2'), null, 2)}\n`,
    ],
    [
      'scroll pages over hundreds of shards: a scroll id of 300 KB before the hits',
      (a: unknown[], b: unknown[]) =>
        `${JSON.stringify(searchResponse(a, 'D'.repeat(300_000)))}\n${JSON.stringify(searchResponse(b, 'E'.repeat(300_000)))}\n`,
    ],
    [
      'two pages, one per line, gzipped',
      (a: unknown[], b: unknown[]) =>
        gzipSync(`${JSON.stringify(searchResponse(a, 's1'))}\n${JSON.stringify(searchResponse(b, 's2'))}\n`),
    ],
  ])(
    'reads Elasticsearch and OpenSearch search responses (%s): each hit\u2019s _source, nothing else',
    async (how, make) => {
      const name = `search-${how.replaceAll(/\W/g, '-')}.json${how.includes('gzip') ? '.gz' : ''}`;
      const response = await sessionsOf([
        '--user',
        EMAIL,
        file(name, make([requestLine(1), requestLine(2)], [requestLine(3)])),
      ]);
      const plain = await sessionsOf(['--user', EMAIL, GRACE]);
      expect(response.stderr).toBe('');
      expect(response.code).toBe(0);
      expect(response.sessions).toEqual(plain.sessions);
      expect(response.sessions[0]?.requests).toHaveLength(3);
    },
  );

  it('reads container runtime (CRI) log lines', async () => {
    const text = [1, 2]
      .map((n) => `2026-11-21T07:00:0${n}.000000000Z stdout F ${JSON.stringify(requestLine(n))}`)
      .join('\n');
    const { sessions } = await sessionsOf([file('cri.log', `${text}\n`)]);
    expect(sessions[0]?.requests).toHaveLength(2);
  });

  it.each([
    [
      'a JSON array of another program\u2019s records',
      JSON.stringify([{ level: 'info', msg: 'up', ts: 1 }], null, 2),
      /JSON of another program.*\(fields: level, msg, ts\)/,
    ],
    [
      "another program's JSON",
      jsonl([
        { level: 'info', msg: 'hello', ts: 1 },
        { level: 'warn', msg: 'x', ts: 2 },
      ]),
      /JSON of another program.*\(fields: level, msg, ts\)/,
    ],
    [
      "another program's JSON, its times out of order",
      jsonl([
        { time: '2026-11-21T07:00:09.000Z', level: 'info', msg: 'b' },
        { time: '2026-11-21T07:00:01.000Z', level: 'info', msg: 'a' },
      ]),
      /JSON of another program.*\(fields: time, level, msg\)/,
    ],
    [
      'a search response whose hits begin past its first 4 MiB',
      JSON.stringify({
        _scroll_id: 'x'.repeat(SEARCH_RESPONSE_HEAD_BYTES),
        hits: { hits: [{ _source: requestLine(1) }] },
      }),
      /hits begin past its first 4 MiB.*jq -c "\.hits\.hits\[\]\._source"/,
    ],
    ['plain text', 'Nov 21 07:00:00 host sshd[1]: Accepted publickey for grace\n', /not JSON/],
    [
      'the application container\u2019s lines, prefixed by kubectl (not a JSON array)',
      '[pod/wiki-1/app] GET / 200\n[pod/wiki-1/app] {"level":"info","msg":"up"}\n',
      /the lines are not JSON/,
    ],
  ])('refuses %s with a hint and a non-zero exit, never a silent "0 sessions"', async (_what, text, hint) => {
    const path = file(`foreign-${Math.random()}.log`, text);
    for (const args of [[path], ['--user', 'grace.hopper@corp.example', path]]) {
      const { code, stdout, stderr } = await sessionsOf(args);
      expect(code).toBe(3);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^gatehouse audit: no Gatehouse lines in the input/);
      expect(stderr).toMatch(hint);
      // Nothing to sort is not reported as sorted.
      expect(stderr).not.toMatch(/sorted on temporary files/);
    }
  });

  it('gives the answer so far, a warning and the partial status for a gzip file cut short', async () => {
    const many = jsonl(Array.from({ length: 2_000 }, (_, i) => requestLine(i + 1)));
    const whole = gzipSync(Buffer.from(many));
    const path = file('cut.log.gz', whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { code, stdout, stderr } = await runGatehouse(['audit', 'sessions', '--format', 'json', path]);
    // A partial answer, as from a pod log that fails while read.
    expect(code).toBe(4);
    expect(stderr).toMatch(
      /the answer is partial: 0 of 1 logs could not be read, 1 ended early \(exit status 4\)\n$/,
    );
    const sessions = JSON.parse(stdout) as { requests: unknown[] }[];
    const read = sessions[0]?.requests.length ?? 0;
    expect(read).toBeGreaterThan(100);
    expect(read).toBeLessThan(2_000);
    expect(stderr).toMatch(
      /warning: .*cut\.log\.gz: the file ends early .*the lines before the cut were read/,
    );
    expect(stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('--format jsonl: one request per line with every field an analyst sums or filters on', async () => {
    const { code, stdout } = await runGatehouse(['audit', 'sessions', '--format', 'jsonl', GRACE]);
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      time: '2026-11-21T07:00:01.000Z',
      app: 'corp/wiki',
      session: 'S-grace',
      user: EMAIL,
      uri: '/page-1',
      status: 200,
      bytesIn: 400,
      bytesOut: 10_001,
      durationMs: 3.5,
      authMethod: 'oidc',
      decision: 'allow',
      policy: 'staff',
      anomalies: [],
      seq: 1,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(readFileSync(GRACE, 'utf8')).toContain('Grace.Hopper');
  });

  it("a file of two sidecars concatenated: one user's session stays whole, with or without a filter", async () => {
    const later = (n: number) => {
      const t = new Date(T0 + 13 * 3_600_000 + n * 1000).toISOString();
      return requestLine(100 + n, { start: t, end: t, time: t });
    };
    // Sidecar B's lines (13 h later) first, then sidecar A's, as `cat b.log a.log` would give.
    const path = file('concatenated.log', jsonl([later(1), later(2), requestLine(1), requestLine(2)]));
    const one = await sessionsOf(['--user', EMAIL, path]);
    expect(one.sessions).toHaveLength(1);
    expect(one.sessions[0]?.requests).toHaveLength(4);
    expect(one.stderr).toBe('');
    const all = await sessionsOf([path]);
    expect(all.code).toBe(0);
    expect(all.sessions).toHaveLength(1);
    expect(all.sessions[0]?.requests.map((r) => r.uri)).toEqual([
      '/page-1',
      '/page-2',
      '/page-101',
      '/page-102',
    ]);
    expect(all.stderr).toMatch(
      /concatenated\.log is not in time order .*: sorted on temporary files in 1 run/,
    );
    expect(all.stderr).not.toMatch(/warning/);
  });

  it('every session of a large concatenated file or of standard input: sorted first, no session split', async () => {
    // Sidecar B (ada, 13 h later) then sidecar A (grace): more lines than the audit reads before
    // it closes idle sessions, so without a sort grace's session would close early and split.
    const n = 5_000;
    const ada = Array.from({ length: n }, (_, i) => {
      const t = new Date(T0 + 13 * 3_600_000 + i * 10).toISOString();
      return requestLine(10_000 + i, {
        start: t,
        end: t,
        time: t,
        identity: { kind: 'user', sub: 'ada', email: 'ada@corp.example', idp: 'corp' },
        sessionId: 'S-ada',
      });
    });
    const grace = Array.from({ length: n }, (_, i) => requestLine(i + 1));
    const text = jsonl([...ada, ...grace]);
    const path = file('two-sidecars.log', text);
    for (const run of [await sessionsOf([path]), await sessionsOf(['-'], text)]) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.sessions.map((s) => s.requests.length)).toEqual([n, n]);
      expect(run.sessions[0]?.requests.slice(0, 2).map((r) => r.uri)).toEqual(['/page-1', '/page-2']);
      expect(run.stderr).toMatch(
        /(two-sidecars\.log is not in time order|\(stdin\) cannot be read twice to check its time order).*: sorted on temporary files in 1 run/,
      );
      expect(run.stderr).not.toMatch(/warning/);
    }
  });

  it('a file in time order is not sorted', async () => {
    const all = await sessionsOf([GRACE]);
    expect(all.sessions).toHaveLength(1);
    expect(all.stderr).not.toMatch(/sorted/);
  });

  it('a directory stands for every file under it; one without files is refused', async () => {
    // Rotated logs: a file per pod and hour, in directories by day.
    const logs = join(dir, 'rotated');
    mkdirSync(join(logs, '2026-11-21'), { recursive: true });
    mkdirSync(join(logs, '2026-11-22'), { recursive: true });
    writeFileSync(join(logs, '2026-11-21', 'wiki-a-07.log'), jsonl([requestLine(1), requestLine(3)]));
    writeFileSync(join(logs, '2026-11-21', 'wiki-b-07.log.gz'), gzipSync(jsonl([requestLine(2)])));
    writeFileSync(join(logs, '2026-11-22', 'wiki-a-07.log'), jsonl([requestLine(86_400)]));
    const fromDirectory = await sessionsOf([logs]);
    expect(fromDirectory.stderr).toBe('');
    expect(fromDirectory.code).toBe(0);
    expect(fromDirectory.sessions.flatMap((s) => s.requests.map((r) => r.uri))).toEqual([
      '/page-1',
      '/page-2',
      '/page-3',
      '/page-86400',
    ]);
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'nothing-here'), { recursive: true });
    const refused = await sessionsOf([empty]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`gatehouse audit: ${empty} is a directory without files`);
  });

  it('-o naming one of the inputs (its path, a link to it, a file of a directory given) is refused; the logs stay whole', async () => {
    const logs = join(dir, 'evidence');
    mkdirSync(logs, { recursive: true });
    const text = jsonl([requestLine(1), requestLine(2)]);
    const log = join(logs, 'wiki.log');
    writeFileSync(log, text);
    symlinkSync(log, join(dir, 'wiki-link.log'));
    for (const [output, inputs] of [
      [log, [log]],
      [join(dir, 'wiki-link.log'), [log]],
      [log, [join(dir, 'wiki-link.log')]],
      [log, [GRACE, logs]],
    ] as const) {
      const { code, stdout, stderr } = await runGatehouse(['audit', 'sessions', '-o', output, ...inputs]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^gatehouse audit: -o \S+ is the input \S+wiki(-link)?\.log: the answer would overwrite the logs it is read from; write it elsewhere\n/,
      );
      expect(readFileSync(log, 'utf8')).toBe(text);
    }
  });

  it('an output file that cannot be opened or written fails in one line, not a stack trace', async () => {
    const missing = join(dir, 'no-such-dir', 'answer.json');
    const unopened = await sessionsOf(['-o', missing, GRACE]);
    expect(unopened.code).toBe(1);
    expect(unopened.stderr).toBe(`gatehouse audit: ${missing}: no such file or directory\n`);
    const unwritten = await sessionsOf(['-o', '/dev/full', GRACE]);
    expect(unwritten.code).toBe(1);
    expect(unwritten.stderr).toBe('gatehouse audit: cannot write /dev/full: no space left on device\n');
  });

  it.each([
    ['every session (its time order checked first)', []],
    ["one user's sessions", ['--user', 'grace.hopper@corp.example']],
  ])('a file whose read fails is named, without a stack trace: %s', async (_, filter) => {
    // Reading the start of a process's own memory fails with EIO once the file is open.
    const failing = await sessionsOf([...filter, GRACE, '/proc/self/mem']);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toBe('');
    expect(failing.stderr).toBe('gatehouse audit: /proc/self/mem: i/o error\n');
  });
});
