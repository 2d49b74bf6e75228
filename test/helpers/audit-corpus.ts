import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A synthetic but faithful Gatehouse log corpus with known ground truth: users signing in to
 * applications served by several sidecars each, every request of a session landing on a random
 * sidecar of its application (so sessions interleave across files), lines written in the order a
 * sidecar writes them (by end time), two applications in the Cloudflare profile, and noise
 * (anonymous and machine requests, failed logins, config events). Sessions change IP or user
 * agent, burst into denials, log out, expire, or are revoked.
 */

export interface CorpusOptions {
  readonly dir: string;
  /** At least this many lines in total. */
  readonly lines: number;
  readonly users: number;
  readonly apps?: number;
  readonly sidecarsPerApp?: number;
  readonly seed?: number;
}

export interface TruthSession {
  readonly app: string;
  readonly sessionId: string;
  readonly email: string;
  readonly sub: string;
  readonly provider: string;
  readonly loginTime: number;
  readonly requestIds: readonly string[];
  readonly ips: readonly string[];
  readonly userAgents: readonly string[];
  readonly end: { readonly kind: 'logout' | 'expired' | 'revoked'; readonly time: number } | null;
  readonly anomalies: readonly string[];
}

export interface Corpus {
  readonly files: readonly string[];
  readonly truth: readonly TruthSession[];
  readonly lines: number;
  readonly bytes: number;
  readonly users: readonly string[];
}

/** mulberry32: a small seeded PRNG, so the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.parse('2026-11-01T00:00:00Z');
const WEEK = 7 * 86_400_000;
const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];
const PATHS = [
  '/',
  '/dashboard',
  '/issues/{n}',
  '/api/v1/items?page={n}',
  '/search?q=report+{n}',
  '/static/app.{n}.js',
  '/admin/users',
  '/admin/settings/{n}',
  '/reports/{n}/export',
];

interface Line {
  readonly end: number;
  readonly text: string;
}

export function generateCorpus(options: CorpusOptions): Corpus {
  const random = prng(options.seed ?? 42);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const appCount = options.apps ?? 8;
  const sidecarsPerApp = options.sidecarsPerApp ?? 3;
  const apps = Array.from({ length: appCount }, (_, i) => ({
    key: `team-${i % 3}/app-${i}`,
    host: `app-${i}.example.com`,
    cloudflare: i < 2,
    providers: i % 2 === 0 ? ['corp'] : ['corp', 'google'],
    sidecars: Array.from({ length: sidecarsPerApp }, () => [] as Line[]),
  }));
  const users = Array.from({ length: options.users }, (_, i) => ({
    email: `user${i}@example.com`,
    sub: `sub-${i.toString(36)}-${int(1e9).toString(36)}`,
    ip: `10.${(i >> 8) & 255}.${i & 255}.${1 + int(250)}`,
    agent: pick(AGENTS),
  }));
  const truth: TruthSession[] = [];
  let total = 0;
  let seq = 0;
  const id = () => `${(seq++).toString(36).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
  const write = (app: (typeof apps)[number], end: number, record: object) => {
    pick(app.sidecars).push({ end, text: JSON.stringify(record) });
    total++;
  };
  const event = (app: (typeof apps)[number], time: number, type: string, fields: object) =>
    write(app, time, { type, time: new Date(time).toISOString(), app: app.key, ...fields });
  const requestLine = (
    app: (typeof apps)[number],
    r: {
      start: number;
      durationMs: number;
      requestId: string;
      method: string;
      uri: string;
      status: number;
      clientIp: string;
      userAgent: string | null;
      identity: object | null;
      sessionId: string | null;
      decision: object | null;
      outcome: string;
    },
  ) => {
    const end = r.start + r.durationMs;
    const start = new Date(r.start).toISOString();
    const endIso = new Date(end).toISOString();
    const authMethod = r.identity === null ? null : r.sessionId ? 'oidc' : 'service-token';
    if (app.cloudflare) {
      write(app, end, {
        ClientIP: r.clientIp,
        ClientRequestHost: app.host,
        ClientRequestMethod: r.method,
        ClientRequestURI: r.uri,
        ClientRequestUserAgent: r.userAgent ?? '',
        ClientRequestProtocol: 'HTTP/1.1',
        ClientRequestBytes: 420 + int(300),
        EdgeStartTimestamp: start,
        EdgeEndTimestamp: endIso,
        EdgeResponseBytes: 800 + int(40_000),
        EdgeResponseStatus: r.status,
        OriginResponseDurationMs: Math.round(r.durationMs * 0.8),
        RayID: r.requestId,
        RequestHeaders: {},
        GatehouseType: 'request',
        GatehouseApp: app.key,
        GatehouseOutcome: r.outcome,
        GatehouseError: null,
        GatehouseIdentity: r.identity,
        GatehouseSessionID: r.sessionId,
        GatehouseAuthMethod: authMethod,
        GatehouseDecision: r.decision,
        GatehouseAuditDecision: null,
        GatehouseConfigGeneration: '3f9a1c0d5e7b2a64',
      });
      return;
    }
    write(app, end, {
      type: 'request',
      time: endIso,
      requestId: r.requestId,
      app: app.key,
      host: app.host,
      method: r.method,
      uri: r.uri,
      protocol: 'HTTP/1.1',
      status: r.status,
      outcome: r.outcome,
      error: null,
      bytesIn: 420 + int(300),
      bytesOut: 800 + int(40_000),
      start,
      end: endIso,
      durationMs: r.durationMs,
      upstreamMs: Math.round(r.durationMs * 800) / 1000,
      clientIp: r.clientIp,
      peerIp: '10.244.1.7',
      userAgent: r.userAgent,
      identity: r.identity,
      sessionId: r.sessionId,
      authMethod,
      decision: r.decision,
      auditDecision: null,
      upgrade: false,
      configGeneration: '3f9a1c0d5e7b2a64',
      requestHeaders: null,
    });
  };

  // Sessions until the corpus is large enough, cycling through the users.
  const perUserApps = new Map<string, TruthSession[]>();
  let u = 0;
  while (total < options.lines || u < users.length) {
    const user = users[u % users.length] as (typeof users)[number];
    u++;
    const app = pick(apps);
    const provider = pick(app.providers);
    const sessionId = randomUUID();
    const login = T0 + int(WEEK - 86_400_000);
    const ips = [user.ip];
    const agents = [user.agent];
    const anomalies: string[] = [];
    const identity = { kind: 'user', sub: user.sub, email: user.email, idp: provider };
    event(app, login, 'login_succeeded', {
      requestId: id(),
      clientIp: user.ip,
      userAgent: user.agent,
      provider,
      sub: user.sub,
      email: user.email,
      sessionId,
      groups: 3,
    });
    const count = 60 + int(700);
    const ipChangeAt = random() < 0.1 ? int(count) : -1;
    const agentChangeAt = random() < 0.04 ? int(count) : -1;
    const burstAt = random() < 0.08 ? int(count - 6) : -1;
    let t = login + 500 + int(2_000);
    let ip = user.ip;
    let agent = user.agent;
    const requestIds: string[] = [];
    let starts: { start: number; id: string }[] = [];
    for (let i = 0; i < count; i++) {
      if (i === ipChangeAt && i > 0) {
        ip = `203.0.113.${1 + int(250)}`;
        if (!ips.includes(ip)) ips.push(ip);
        anomalies.push('ip_change');
      }
      if (i === agentChangeAt && i > 0) {
        agent = pick(AGENTS.filter((a) => a !== agent));
        if (!agents.includes(agent)) agents.push(agent);
        anomalies.push('user_agent_change');
      }
      const inBurst = burstAt >= 0 && i >= burstAt && i < burstAt + 6;
      const path = inBurst ? '/admin/users' : pick(PATHS).replace('{n}', String(int(5000)));
      const denied = inBurst || (path.startsWith('/admin') && random() < 0.5);
      const requestId = id();
      const start = t;
      starts.push({ start, id: requestId });
      requestLine(app, {
        start,
        durationMs: 1 + int(400) + Math.round(random() * 1000) / 1000,
        requestId,
        method: random() < 0.85 ? 'GET' : 'POST',
        uri: path,
        status: denied ? 403 : random() < 0.03 ? 404 : 200,
        clientIp: ip,
        userAgent: agent,
        identity,
        sessionId,
        decision: denied
          ? {
              action: 'deny',
              policy: `${app.key.split('/')[0]}/admins-only`,
              rule: 'exclude',
              reason: 'group_mismatch',
            }
          : {
              action: 'allow',
              policy: `${app.key.split('/')[0]}/staff`,
              rule: 'include',
              reason: 'email_domain_match',
            },
        outcome: denied ? 'denied' : 'served',
      });
      // Parallel requests (same millisecond) now and then; otherwise think time.
      t += random() < 0.05 ? 0 : inBurst ? 200 + int(800) : 300 + int(20_000);
    }
    if (burstAt >= 0) anomalies.push('denial_burst');
    starts = starts.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const s of starts) requestIds.push(s.id);
    const last = t;
    const ending = random();
    let end: TruthSession['end'] = null;
    const common = { provider, sub: user.sub, email: user.email, sessionId };
    if (ending < 0.35) {
      end = { kind: 'logout', time: last + 1_000 + int(60_000) };
      event(app, end.time, 'logout', { requestId: id(), clientIp: ip, userAgent: agent, ...common });
    } else if (ending < 0.55) {
      end = { kind: 'expired', time: last + 3_600_000 };
      event(app, end.time, 'session_expired', {
        requestId: id(),
        clientIp: ip,
        userAgent: agent,
        reason: 'idle_timeout',
        ...common,
      });
    } else if (ending < 0.57) {
      end = { kind: 'revoked', time: last + 2_000 };
      event(app, end.time, 'session_revoked', {
        requestId: id(),
        clientIp: ip,
        userAgent: agent,
        revocation: `${user.email.replace(/[@.]/g, '-')}-x1`,
        reason: 'stolen laptop',
        ...common,
      });
    }
    const session: TruthSession = {
      app: app.key,
      sessionId,
      email: user.email,
      sub: user.sub,
      provider,
      loginTime: login,
      requestIds,
      ips,
      userAgents: agents,
      end,
      anomalies,
    };
    truth.push(session);
    const key = `${user.email} ${app.key}`;
    perUserApps.set(key, [...(perUserApps.get(key) ?? []), session]);

    // Noise: health checks, machine callers, failed sign-ins, config events.
    for (let n = 0; n < count / 8; n++) {
      const start = T0 + int(WEEK);
      const machine = random() < 0.3;
      requestLine(app, {
        start,
        durationMs: 1 + int(30),
        requestId: id(),
        method: 'GET',
        uri: machine ? '/api/v1/sync' : '/healthz',
        status: 200,
        clientIp: machine ? '10.244.7.3' : pick(['10.0.0.1', user.ip]),
        userAgent: machine ? 'sync-job/2.1' : 'kube-probe/1.35',
        identity: machine ? { kind: 'service-token', sub: 'ci-sync', email: null, idp: null } : null,
        sessionId: null,
        decision: {
          action: machine ? 'allow' : 'bypass',
          policy: 'ops/health',
          rule: 'include',
          reason: 'path_match',
        },
        outcome: 'served',
      });
    }
    if (random() < 0.1)
      event(app, T0 + int(WEEK), 'login_failed', {
        requestId: id(),
        clientIp: user.ip,
        userAgent: user.agent,
        reason: 'state_mismatch',
        provider,
        detail: null,
      });
    if (random() < 0.02)
      event(app, T0 + int(WEEK), 'config_loaded', {
        generation: '3f9a1c0d5e7b2a64',
        source: 'operator',
        policies: 2,
      });
  }

  mkdirSync(options.dir, { recursive: true });
  const files: string[] = [];
  let bytes = 0;
  for (const app of apps) {
    app.sidecars.forEach((lines, i) => {
      lines.sort((a, b) => a.end - b.end);
      const text = `${lines.map((l) => l.text).join('\n')}\n`;
      const file = join(options.dir, `${app.key.replace('/', '_')}-${i}.log`);
      writeFileSync(file, text);
      bytes += Buffer.byteLength(text);
      files.push(file);
    });
  }
  return { files, truth, lines: total, bytes, users: users.map((x) => x.email) };
}
