import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateApplicationKeys, keysSecretName, keysToSecretData } from '../../contract/keys.ts';
import { sessionEndRevocationName } from '../../contract/session-ends.ts';
import { freePort } from '../helpers/control-plane.ts';
import { openRaw, sleep } from '../helpers/hostile.ts';
import { eventually } from '../helpers/operator-cluster.ts';
import {
  providerLogoutRounds,
  type Replicas,
  refusedLogoutTokens,
  sessionAlive,
  signInAnyway,
  signOutEverywhereRound,
  signOutRounds,
} from '../helpers/session-end-scenarios.ts';
import {
  type BackchannelProvider,
  forwarded,
  postLogoutToken,
  signIn,
  signOut,
  startBackchannelProvider,
} from '../helpers/session-ends.ts';
import { runGatehouse, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import type { TestUpstream } from '../helpers/upstream.ts';
import { ENGINEERS_POLICY, IDP_SECRET, startEchoUpstream, wikiSpec } from '../helpers/wiki-app.ts';

// Sessions end everywhere without Kubernetes: three file-mode replicas read one config
// directory and share a revocations directory, where sign-outs, back-channel logouts and
// `gatehouse revoke --revocations-dir` write AccessRevocation files.

const ROUNDS = 20;

/** `gatehouse audit sessions --user <email> --format json` of a log file: the sessions it answers (exit 0). */
async function auditedSessions<T>(file: string, email: string): Promise<T[]> {
  const audited = await runGatehouse(['audit', 'sessions', '--user', email, '--format', 'json', file]);
  expect(audited.code).toBe(0);
  return JSON.parse(audited.stdout) as T[];
}

/** The replicas' log lines in one file, as an analyst gathers them for `gatehouse audit`. */
function logFileOf(replicas: readonly SidecarProcess[], prefix: string): string {
  const file = join(mkdtempSync(join(tmpdir(), prefix)), 'all.log');
  writeFileSync(file, replicas.flatMap((s) => s.lines.map((l) => JSON.stringify(l))).join('\n'));
  return file;
}
let idp: BackchannelProvider;
let upstream: TestUpstream;
const sidecars: SidecarProcess[] = [];
const upstreamPaths: string[] = [];
let replicas: Replicas;
let revocationsDir: string;
let origins: string[];
let stray: SidecarProcess | undefined;
let guarded: SidecarProcess | undefined;
let guardedPort: number;
let strayOrigin: string;

beforeAll(async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  origins = ports.map((p) => `http://127.0.0.1:${p}`);
  // A fourth replica that was started without the shared directory: it never hears of sign-outs.
  const strayPort = await freePort();
  guardedPort = await freePort();
  strayOrigin = `http://127.0.0.1:${strayPort}`;
  upstream = await startEchoUpstream(upstreamPaths);
  idp = await startBackchannelProvider(origins[0] as string);
  const configDir = mkdtempSync(join(tmpdir(), 'gatehouse-standalone-ends-'));
  revocationsDir = mkdtempSync(join(tmpdir(), 'gatehouse-revocations-'));
  const documents = [
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name: 'wiki' },
      spec: wikiSpec({
        hosts: [...ports, strayPort, guardedPort].map((p) => `127.0.0.1:${p}`),
        upstreamUrl: upstream.url,
        externalUrl: origins[0] as string,
        issuer: idp.provider.issuer,
      }),
    },
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'engineers' },
      spec: ENGINEERS_POLICY,
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'idp' },
      stringData: IDP_SECRET,
    },
    // One set of keys for every replica: a cookie sealed by one is read by the others.
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keysSecretName('wiki') },
      stringData: keysToSecretData(generateApplicationKeys('ES256')),
    },
  ];
  writeFileSync(join(configDir, 'wiki.yaml'), documents.map((d) => stringify(d)).join('---\n'));
  for (const port of ports)
    sidecars.push(
      await startSidecarProcess(configDir, [
        '--listen',
        `127.0.0.1:${port}`,
        '--revocations-dir',
        revocationsDir,
      ]),
    );
  replicas = { origins, sidecars, upstreamPaths, idp };
  stray = await startSidecarProcess(configDir, ['--listen', `127.0.0.1:${strayPort}`]);
  // A replica with tight body limits, for clients that abuse the back-channel logout endpoint.
  guarded = await startSidecarProcess(configDir, [
    '--listen',
    `127.0.0.1:${guardedPort}`,
    '--revocations-dir',
    revocationsDir,
    '--client-body-timeout',
    '1s',
    '--client-body-min-rate',
    '1000',
    '--shutdown-grace',
    '2s',
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(
    [...sidecars, ...(stray ? [stray] : []), ...(guarded ? [guarded] : [])].map((s) => s.stop()),
  );
  await idp?.close();
  await upstream?.close();
});

describe('sessions end everywhere, standalone', () => {
  it(`a sign-out on replica A ends the session on B and C within a second and closes its WebSocket (${ROUNDS} rounds)`, async () => {
    await signOutRounds(replicas, ROUNDS, 'standalone sign-out');
    expect(
      readdirSync(revocationsDir).filter((f) => f.startsWith('session-end-')).length,
    ).toBeGreaterThanOrEqual(ROUNDS);
  }, 180_000);

  it(`oidc-provider's own back-channel logout ends the session in all three replicas within a second (${ROUNDS} rounds)`, async () => {
    await providerLogoutRounds(replicas, ROUNDS, 'standalone back-channel');
  }, 180_000);

  it('refuses forged, misaddressed, replayed, stale and malformed logout tokens, each with its reason, ending nothing', async () => {
    await refusedLogoutTokens(replicas);
  }, 60_000);
});

describe('sign-out is a same-origin POST', () => {
  it('a cross-site GET or POST does not end the session; the POST from the sign-out page does', async () => {
    const a = origins[0] as string;
    const { cookie } = await signIn(a);
    // An image tag or a link on another site: a GET shows the confirmation page, nothing ends.
    const asked = await request(`${a}/.gatehouse/logout`, {
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    const page = await asked.body.text();
    expect(asked.statusCode).toBe(200);
    expect(page).toContain('<form method="post" action="/.gatehouse/logout">');
    expect(await forwarded(a, cookie, '/after-cross-site-get', upstreamPaths)).toBe(true);
    // A form on another site posting here: refused with 403, nothing ends.
    expect(
      await signOut(a, cookie, { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' }),
    ).toBe(403);
    expect(await signOut(a, cookie, { origin: 'https://attacker.example', 'sec-fetch-site': '' })).toBe(403);
    const refused = await sidecars[0]?.waitForLine((l) => l.type === 'logout_refused');
    expect(refused).toMatchObject({ reason: 'cross_site_request', origin: 'https://attacker.example' });
    expect(await forwarded(a, cookie, '/after-cross-site-post', upstreamPaths)).toBe(true);
    // The page's own form: same origin, the session ends.
    expect(await signOut(a, cookie)).toBe(200);
    expect(await forwarded(a, cookie, '/after-sign-out', upstreamPaths)).toBe(false);
  });

  it('a named pipe planted where a sign-out would write its file does not stop the replica', async () => {
    // Whoever may write the shared directory knows the name a sign-out's file gets (it comes from
    // the session id and the application): a pipe at its temporary path blocked the sign-out's
    // write, and with it the replica's event loop, for ever.
    const a = origins[1] as string;
    const { cookie } = await signIn(origins[0] as string);
    expect(await forwarded(a, cookie, '/before-planted-pipe', upstreamPaths)).toBe(true);
    const served = await sidecars[1]?.waitForLine(
      (l) => l.type === 'request' && l.uri === '/before-planted-pipe',
    );
    const sid = String(served?.sessionId);
    const name = sessionEndRevocationName({ session: sid, before: 0, reason: 'signed out' }, 'default/wiki');
    execFileSync('mkfifo', [join(revocationsDir, `.${name}.tmp`)]);
    expect(await signOut(a, cookie)).toBe(200);
    const reported = await sidecars[1]?.waitForLine(
      (l) => l.type === 'session_end_reported' && l.session === sid,
    );
    expect(reported).toMatchObject({ attempts: 1 });
    expect(readdirSync(revocationsDir)).toContain(`${name}.yaml`);
    // Still serving, and the session ended in the other replicas too.
    await refusedEverywhere(cookie, 'after-planted-pipe');
    expect((await request(`${a}/.gatehouse/ready`)).statusCode).toBe(200);
  });
});

/** Until the cookie is refused (not forwarded) in every replica. */
const refusedEverywhere = (cookie: string, label: string) =>
  eventually(
    async () => {
      for (const [i, origin] of origins.entries())
        if (await forwarded(origin, cookie, `/${label}-${i}-${Date.now()}`, upstreamPaths)) return false;
      return true;
    },
    5_000,
    `${label}: refused in every replica`,
  );

describe('sign out on every device', () => {
  it("ends every session of the account, on every replica, within a second; another user's sessions go on", async () => {
    // The sign-out page offers it: a second button posting to the same route with ?everywhere=1.
    const page = await request(`${origins[1]}/.gatehouse/logout?rd=%2Fhome`);
    expect(await page.body.text()).toContain(
      'formaction="/.gatehouse/logout?everywhere=1&#38;rd=%2Fhome">Sign out on every device</button>',
    );
    // Accounts of their own: alice's ends of the other tests fill her 50 places in this directory.
    const ms = await signOutEverywhereRound(replicas, 'carol', 'dave', 1_000);
    console.warn(
      `standalone sign-out on every device: every session refused everywhere in ${ms.toFixed(0)} ms`,
    );
    expect(sidecars[1]?.lines.find((l) => l.type === 'logout' && l.everywhere === true)).toMatchObject({
      sub: 'carol',
    });
    // The audit reads it from the replicas' logs: the device that asked signed out, the two others
    // revoked; her sign-in after it goes on.
    await eventually(
      async () =>
        sidecars[0]?.lines.filter((l) => l.type === 'login_succeeded' && l.sub === 'carol').length === 4,
      5_000,
      "carol's four sign-ins logged",
    );
    const file = logFileOf(sidecars, 'gatehouse-audit-everywhere-');
    const sessions = await auditedSessions<{ end: { kind: string; reason: string | null } | null }>(
      file,
      'carol@example.com',
    );
    expect(sessions.map((x) => x.end?.kind ?? 'open').sort()).toEqual([
      'logout',
      'open',
      'revoked',
      'revoked',
    ]);
    // Each revoked one says why: the reason of the end that reached it.
    for (const x of sessions.filter((x) => x.end?.kind === 'revoked'))
      expect(x.end?.reason).toBe('signed out on every device');
    const text = await runGatehouse(['audit', 'sessions', '--user', 'carol@example.com', file]);
    expect(text.stdout).toMatch(
      /ended +revoked at \S+ \(session-end-[0-9a-f]+: signed out on every device\)/,
    );
  });

  it('a cross-site POST with ?everywhere=1 ends nothing', async () => {
    const a = origins[0] as string;
    const { cookie } = await signIn(a);
    expect(
      await signOut(
        a,
        cookie,
        { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
        '?everywhere=1',
      ),
    ).toBe(403);
    expect(await forwarded(a, cookie, '/after-cross-site-everywhere', upstreamPaths)).toBe(true);
  });
});

describe('front-channel logout (OpenID Connect Front-Channel Logout 1.0)', () => {
  /**
   * The provider session (`sid`) of the sign-in a cookie came from, as replica A logged it: the
   * session is found by its id (the cookie's userinfo), not by the order of the lines, where a
   * line of an earlier test's sign-in may still be on its way.
   */
  const providerSessionOf = async (cookie: string): Promise<string> => {
    const userinfo = await request(`${origins[0]}/.gatehouse/userinfo`, { headers: { cookie } });
    const { sid: sessionId } = (await userinfo.body.json()) as { sid: string };
    const line = await sidecars[0]?.waitForLine(
      (l) => l.type === 'login_succeeded' && l.sessionId === sessionId,
    );
    expect(typeof line?.providerSession).toBe('string');
    return String(line?.providerSession);
  };
  const frontchannel = async (origin: string, query: string, headers: Record<string, string> = {}) => {
    const response = await request(`${origin}/.gatehouse/frontchannel-logout${query}`, { headers });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  };
  const filesOfEnds = () => readdirSync(revocationsDir).filter((f) => f.startsWith('session-end-')).length;

  it("the provider's frame on replica B, with sid only (as Microsoft Entra ID sends it) and no cookie, ends the session in every replica; an empty page that may be framed", async () => {
    const [a, b] = origins as [string, string];
    const { cookie } = await signIn(a);
    const sid = await providerSessionOf(cookie);
    expect(await forwarded(b, cookie, '/before-frontchannel', upstreamPaths)).toBe(true);
    const started = performance.now();
    const answer = await frontchannel(b, `?sid=${encodeURIComponent(sid)}`, {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-dest': 'iframe',
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('');
    expect(answer.headers['cache-control']).toBe('no-cache, no-store');
    expect(answer.headers.pragma).toBe('no-cache');
    // The provider's page frames it: no framing refused.
    expect(answer.headers['x-frame-options']).toBeUndefined();
    expect(String(answer.headers['content-security-policy'])).not.toContain('frame-ancestors');
    expect(answer.headers['set-cookie']).toBeUndefined();
    await refusedEverywhere(cookie, 'after-frontchannel');
    console.warn(
      `front-channel logout on B → cookie refused on every replica: ${(performance.now() - started).toFixed(0)} ms`,
    );
    expect(await sidecars[1]?.waitForLine((l) => l.type === 'frontchannel_logout')).toMatchObject({
      provider: 'dev',
      sub: 'alice',
      providerSession: sid,
      issuerSent: false,
    });
    await sidecars[1]?.waitForLine((l) => l.type === 'session_end_reported' && l.providerSession === sid);
  });

  it('with iss and sid ends it too; the same frame again ends nothing more', async () => {
    const [a] = origins as [string];
    const { cookie } = await signIn(a);
    const sid = await providerSessionOf(cookie);
    // The issuer as some providers write it, with a trailing slash.
    const query = `?iss=${encodeURIComponent(`${idp.provider.issuer}/`)}&sid=${encodeURIComponent(sid)}`;
    const before = filesOfEnds();
    expect((await frontchannel(a, query)).status).toBe(200);
    await refusedEverywhere(cookie, 'after-frontchannel-iss');
    expect(
      await sidecars[0]?.waitForLine((l) => l.type === 'frontchannel_logout' && l.providerSession === sid),
    ).toMatchObject({ issuerSent: true });
    expect(filesOfEnds()).toBe(before + 1);
    // A provider that calls twice (or anyone replaying the frame): nothing more is written.
    expect((await frontchannel(a, query)).status).toBe(200);
    await sidecars[0]?.waitForLine(
      (l) =>
        l.type === 'frontchannel_logout_refused' && l.reason === 'unknown_session' && l.provider === 'dev',
    );
    expect(filesOfEnds()).toBe(before + 1);
  });

  it('a provider on the same site, whose frame brings our cookie: the cookie is deleted too', async () => {
    const [a] = origins as [string];
    const { cookie } = await signIn(a);
    const sid = await providerSessionOf(cookie);
    const answer = await frontchannel(a, `?sid=${encodeURIComponent(sid)}`, { cookie });
    expect(answer.status).toBe(200);
    const cleared = [answer.headers['set-cookie'] ?? []].flat();
    expect(cleared.length).toBeGreaterThan(0);
    expect(cleared.every((c) => /Max-Age=0/i.test(c))).toBe(true);
    await refusedEverywhere(cookie, 'after-frontchannel-same-site');
  });

  it('made-up sids, no sid, a foreign issuer, or a sid this replica never saw end nothing and write nothing', async () => {
    const [a] = origins as [string];
    const { cookie } = await signIn(a);
    const sid = await providerSessionOf(cookie);
    const before = filesOfEnds();
    // Anyone can send these: a thousand guesses must not fill the application's revocations.
    const guesses = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => frontchannel(a, `?sid=guess-${i}-${Math.random()}`)),
    );
    expect(guesses.every((g) => g.status === 200)).toBe(true);
    const refusals: [string, number][] = [
      ['', 400],
      ['?sid=', 400],
      [`?sid=${'x'.repeat(256)}`, 400],
      [`?iss=${encodeURIComponent(idp.provider.issuer)}`, 400],
      [`?iss=https%3A%2F%2Fattacker.example&sid=${encodeURIComponent(sid)}`, 400],
    ];
    const refusedFor = (reason: string) =>
      sidecars[0]?.lines.filter((l) => l.type === 'frontchannel_logout_refused' && l.reason === reason)
        .length ?? 0;
    const [missing, foreign] = [refusedFor('missing_sid'), refusedFor('unknown_issuer')];
    for (const [query, status] of refusals) expect((await frontchannel(a, query)).status, query).toBe(status);
    await eventually(
      async () => refusedFor('missing_sid') === missing + 4 && refusedFor('unknown_issuer') === foreign + 1,
      5_000,
      'each refusal logged with its reason',
    );
    // The guarded replica shares the revocations but never opened this session: it cannot tell
    // the real sid from a guess, so it ends nothing (the provider's frame may land on it).
    expect(
      (await frontchannel(`http://127.0.0.1:${guardedPort}`, `?sid=${encodeURIComponent(sid)}`)).status,
    ).toBe(200);
    await guarded?.waitForLine(
      (l) => l.type === 'frontchannel_logout_refused' && l.reason === 'unknown_session',
    );
    // A POST or a WebSocket handshake is not a front-channel logout.
    const posted = await request(`${a}/.gatehouse/frontchannel-logout?sid=${encodeURIComponent(sid)}`, {
      method: 'POST',
    });
    await posted.body.dump();
    expect(posted.statusCode).toBe(404);
    await sleep(300);
    expect(filesOfEnds()).toBe(before);
    for (const [i, origin] of origins.entries())
      expect(await forwarded(origin, cookie, `/after-frontchannel-guesses-${i}`, upstreamPaths)).toBe(true);
    expect(
      sidecars[0]?.lines.filter(
        (l) => l.type === 'frontchannel_logout_refused' && l.reason === 'unknown_session',
      ).length,
    ).toBeGreaterThanOrEqual(1_000);
  }, 60_000);
});

describe('hostile clients at the front-channel logout endpoint', () => {
  const get = (query: string, extra = '') =>
    `GET /.gatehouse/frontchannel-logout${query} HTTP/1.1\r\nHost: 127.0.0.1:${guardedPort}\r\n${extra}\r\n`;

  it('30 guesses pipelined on one connection, a sid of 10 KB, a request cut mid-line and a reset: answered or dropped, nothing written, the replica serves', async () => {
    const before = readdirSync(revocationsDir).filter((f) => f.startsWith('session-end-')).length;
    // 30 guesses in one write, pipelined (32 is the most a connection may have unanswered): each
    // answered 200 in order, none ends or writes anything.
    const pipelined = await openRaw(guardedPort);
    pipelined.socket.write(Array.from({ length: 30 }, (_, i) => get(`?sid=guess-${i}`)).join(''));
    await pipelined.until(() => (pipelined.received().match(/HTTP\/1\.1 200/g) ?? []).length >= 30, 5_000);
    expect((pipelined.received().match(/HTTP\/1\.1 200/g) ?? []).length).toBe(30);
    pipelined.socket.destroy();
    // A sid far past any provider's: refused before anything is looked up.
    const long = await openRaw(guardedPort);
    long.socket.write(get(`?sid=${'s'.repeat(10_000)}`, 'Connection: close\r\n'));
    await long.waitFor(/HTTP\/1\.1 400/, 5_000);
    // Cut in the middle of the request line, then reset; and one reset after its head.
    const cut = await openRaw(guardedPort);
    cut.socket.write('GET /.gatehouse/frontchannel-logout?sid=gue');
    await sleep(50);
    cut.socket.resetAndDestroy();
    const afterHead = await openRaw(guardedPort);
    afterHead.socket.write(get('?sid=guess-x'));
    afterHead.socket.resetAndDestroy();
    await sleep(300);
    expect(readdirSync(revocationsDir).filter((f) => f.startsWith('session-end-')).length).toBe(before);
    expect((await request(`http://127.0.0.1:${guardedPort}/.gatehouse/ready`)).statusCode).toBe(200);
  });
});

describe('hostile clients at the back-channel logout endpoint', () => {
  const post = (length: number) =>
    `POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: 127.0.0.1:${guardedPort}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`;

  it('a trickled body is cut with 408, an oversized one refused, a reset mid-body logged; the replica keeps serving', async () => {
    const trickle = await openRaw(guardedPort);
    trickle.socket.write(`${post(5_000)}logout_token=`);
    const drip = setInterval(() => trickle.socket.destroyed || trickle.socket.write('x'), 200);
    try {
      await trickle.waitFor(/HTTP\/1\.1 408/, 6_000);
    } finally {
      clearInterval(drip);
    }
    const big = await openRaw(guardedPort);
    big.socket.write(`${post(40_000)}logout_token=${'a'.repeat(40_000 - 13)}`);
    await big.waitFor(/HTTP\/1\.1 400/, 5_000);
    expect(big.received()).toContain('too_large');
    const reset = await openRaw(guardedPort);
    reset.socket.write(`${post(1_000)}logout_token=abc`);
    await sleep(100);
    reset.socket.resetAndDestroy();
    // A burst of junk tokens in parallel: each refused, none ends anything, the replica stays up.
    const junk = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        postLogoutToken(`http://127.0.0.1:${guardedPort}`, `junk.${i}.token`),
      ),
    );
    expect(junk.every((j) => j.status === 400 && j.body.includes('malformed'))).toBe(true);
    const lines = (guarded as SidecarProcess).lines;
    await eventually(
      async () =>
        lines.some((l) => l.type === 'request' && l.error === 'body_too_slow') &&
        lines.some((l) => l.type === 'request' && l.outcome === 'client_abort'),
      5_000,
      'the trickle and the reset logged',
    );
    const { cookie } = await signIn(origins[0] as string);
    expect(
      await forwarded(`http://127.0.0.1:${guardedPort}`, cookie, '/guarded-still-serving', upstreamPaths),
    ).toBe(true);
  });
});

describe('hostile clients at the sign-out endpoints, every phase', () => {
  const guardedOrigin = () => `http://127.0.0.1:${guardedPort}`;
  const head = (path: string, length: number, extra = '') =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${guardedPort}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}${extra}\r\n\r\n`;
  const linesFor = (uri: string) =>
    ((guarded as SidecarProcess).lines ?? []).filter((l) => l.type === 'request' && l.uri === uri);

  it('silence after the headers, FIN mid-body, a sign-out POST whose body never comes: answered or cut, logged, nothing held', async () => {
    const silent = await openRaw(guardedPort);
    silent.socket.write(head('/.gatehouse/backchannel-logout?silent', 500));
    await silent.waitFor(/HTTP\/1\.1 408/, 5_000);
    const fin = await openRaw(guardedPort);
    fin.socket.write(`${head('/.gatehouse/backchannel-logout?fin', 500)}logout_token=abc`);
    await sleep(100);
    fin.socket.end();
    await fin.closed;
    // No Origin: refused at once (403); the body it announced never comes and is not waited for.
    const logout = await openRaw(guardedPort);
    logout.socket.write(head('/.gatehouse/logout', 1_000));
    await logout.waitFor(/HTTP\/1\.1 403/, 5_000);
    expect(await logout.until(() => logout.isClosed(), 5_000)).toBe(true);
    await eventually(
      async () =>
        linesFor('/.gatehouse/backchannel-logout?silent').some((l) => l.status === 408) &&
        linesFor('/.gatehouse/backchannel-logout?fin').some((l) => l.outcome === 'client_abort') &&
        linesFor('/.gatehouse/logout').some((l) => l.status === 403),
      5_000,
      'one line for each',
    );
    const still = await request(`${guardedOrigin()}/still-answering`, { headers: { accept: 'text/html' } });
    await still.body.dump();
    expect(still.statusCode).toBe(302); // still serving: sent to sign in
  });

  it('a sign-out on every device whose body never comes, and one reset mid-body: answered or cut, logged, the sessions ended, the replica serves', async () => {
    // erin: an account of her own, whom the policy refuses the pages; her userinfo says whether her session lives.
    const cookie = await signInAnyway(origins[0] as string, 'erin');
    const pending = await openRaw(guardedPort);
    pending.socket.write(
      head(
        '/.gatehouse/logout?everywhere=1',
        1_000,
        `\r\nOrigin: http://127.0.0.1:${guardedPort}\r\nCookie: ${cookie}`,
      ),
    );
    // Ended without the body (the route reads none); the connection is not kept for it.
    await pending.waitFor(/HTTP\/1\.1 (200|303)/, 5_000);
    expect(await pending.until(() => pending.isClosed(), 5_000)).toBe(true);
    await eventually(
      async () => !(await sessionAlive(origins[1] as string, cookie)),
      2_000,
      "erin's session refused on another replica",
    );
    await sleep(1_100); // her next sign-in after the second of that end
    const again = await signInAnyway(origins[0] as string, 'erin');
    // Reset mid-body, once the head was read: the sign-out was asked for, and it holds.
    const reset = await openRaw(guardedPort);
    reset.socket.write(
      `${head('/.gatehouse/logout?everywhere=1&reset', 1_000, `\r\nOrigin: http://127.0.0.1:${guardedPort}\r\nCookie: ${again}`)}x=`,
    );
    await sleep(100);
    reset.socket.resetAndDestroy();
    await eventually(
      async () => linesFor('/.gatehouse/logout?everywhere=1&reset').length === 1,
      5_000,
      'one line for the sign-out reset mid-body',
    );
    await eventually(
      async () => !(await sessionAlive(origins[1] as string, again)),
      2_000,
      "erin's second session refused on another replica",
    );
    const still = await request(`${guardedOrigin()}/still-answering`, { headers: { accept: 'text/html' } });
    await still.body.dump();
    expect(still.statusCode).toBe(302);
  });

  it('a back-channel logout mid-body at shutdown: the sidecar still exits within its grace and logs it', async () => {
    const pending = await openRaw(guardedPort);
    pending.socket.write(`${head('/.gatehouse/backchannel-logout?shutdown', 5_000)}logout_token=`);
    const drip = setInterval(() => pending.socket.destroyed || pending.socket.write('x'), 100);
    try {
      await sleep(200);
      const process = guarded as SidecarProcess;
      const started = performance.now();
      await process.stop();
      expect(performance.now() - started).toBeLessThan(4_000);
      expect(process.lines.some((l) => l.type === 'sidecar_stopped')).toBe(true);
      expect(linesFor('/.gatehouse/backchannel-logout?shutdown')).toHaveLength(1);
    } finally {
      clearInterval(drip);
      pending.socket.destroy();
      guarded = undefined;
    }
  });
});

describe('the audit sees every end', () => {
  it('flags a session used on another replica after its sign-out, and ties a refused replay to its session', async () => {
    const a = origins[0] as string;
    const { cookie } = await signIn(a, 'alice');
    expect(await forwarded(a, cookie, '/audit-before-sign-out', upstreamPaths)).toBe(true);
    expect(await signOut(a, cookie)).toBe(200);
    await eventually(
      async () =>
        !(await forwarded(origins[1] as string, cookie, `/audit-wait-${Date.now()}`, upstreamPaths)),
      5_000,
      'ended on B',
    );
    // The thief replays the cookie on A (refused) and on the stray replica (served: it never heard).
    expect(await forwarded(a, cookie, '/audit-replay-refused', upstreamPaths)).toBe(false);
    expect(await forwarded(strayOrigin, cookie, '/audit-used-after-end', upstreamPaths)).toBe(true);
    const all = [...sidecars, stray as SidecarProcess];
    await eventually(
      async () =>
        all.some((s) => s.lines.some((l) => l.type === 'request' && l.uri === '/audit-used-after-end')),
      5_000,
      'stray line written',
    );
    const file = logFileOf(all, 'gatehouse-audit-ends-');
    const sessions = await auditedSessions<{
      sessionId: string;
      end: { kind: string } | null;
      requests: { uri: string; host: string; endedSession?: { reason: string } | null }[];
      anomalies: { kind: string; detail: string }[];
    }>(file, 'alice@example.com');
    const session = sessions.find((s) => s.requests.some((r) => r.uri === '/audit-before-sign-out'));
    expect(session?.end?.kind).toBe('logout');
    // Flagged: the stray replica's request, and any B served in the moment before the end reached it.
    const used = session?.anomalies.filter((x) => x.kind === 'used_after_end') ?? [];
    expect(used.map((x) => x.detail).filter((d) => d.includes('/audit-used-after-end'))).toEqual([
      expect.stringContaining(`/audit-used-after-end served on ${new URL(strayOrigin).host}`),
    ]);
    for (const flagged of used.filter((x) => !x.detail.includes('/audit-used-after-end')))
      expect(flagged.detail).toContain(`served on ${new URL(origins[1] as string).host}`);
    const replay = session?.requests.find((r) => r.uri === '/audit-replay-refused');
    expect(replay?.endedSession?.reason).toBe('signed_out');
  });
});

describe('revocations without a cluster', () => {
  /** Resolves once every replica refuses the cookie (sends it to sign in, not to the application). */

  it('an analyst ends one session from the audit: it prints the command, which ends that session in every replica and leaves her other one', async () => {
    const victim = await signIn(origins[0] as string);
    const laptop = await signIn(origins[1] as string);
    // The thief uses the victim's cookie from another browser, on another replica.
    const stolen = await request(`${origins[2]}/stolen`, {
      headers: { cookie: victim.cookie, accept: 'text/html', 'user-agent': 'thief/1.0' },
    });
    await stolen.body.dump();
    expect(stolen.statusCode).toBe(200);
    const line = await sidecars[2]?.waitForLine((l) => l.type === 'request' && l.uri === '/stolen');
    const sid = String(line?.sessionId);
    const file = logFileOf(sidecars, 'gatehouse-audit-thief-');
    const audited = await runGatehouse(['audit', 'sessions', '--user', 'alice@example.com', file]);
    expect(audited.code).toBe(0);
    const block = audited.stdout.split(/^Session /m).find((b) => b.startsWith(`${sid} `)) ?? '';
    expect(block).toContain('! user agent change');
    const command = /^ {2}to end it {2}(.+)$/m.exec(block)?.[1] ?? '';
    expect(command).toBe(`gatehouse revoke --session ${sid} --app wiki`);

    const written = await runGatehouse([
      ...command.split(' ').slice(1),
      '--reason',
      'INC-9',
      '--revocations-dir',
      revocationsDir,
    ]);
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`Session ${sid} ends in default/wiki reading ${revocationsDir}`);
    await refusedEverywhere(victim.cookie, 'thief');
    for (const [i, origin] of origins.entries())
      expect(await forwarded(origin, laptop.cookie, `/laptop-${i}`, upstreamPaths)).toBe(true);
    const applied = await sidecars[1]?.waitForLine(
      (l) => l.type === 'revocation_applied' && l.session === sid,
    );
    expect(applied).toMatchObject({ reason: 'INC-9' });
    expect(applied?.user).toBeUndefined();
  });

  it('gatehouse revoke --provider-session ends the sessions signed in through that session of the provider, in every replica', async () => {
    const first = await signIn(origins[0] as string);
    const second = await signIn(origins[1] as string);
    const sessionOf = async (cookie: string, path: string) => {
      expect(await forwarded(origins[0] as string, cookie, path, upstreamPaths)).toBe(true);
      return (await sidecars[0]?.waitForLine((l) => l.type === 'request' && l.uri === path))?.sessionId;
    };
    const firstSid = await sessionOf(first.cookie, '/whose-first');
    const secondSid = await sessionOf(second.cookie, '/whose-second');
    const providerSessionOf = (sid: unknown) =>
      sidecars.flatMap((s) => s.lines).find((l) => l.type === 'login_succeeded' && l.sessionId === sid)
        ?.providerSession;
    const psid = providerSessionOf(firstSid);
    expect(typeof psid).toBe('string');
    expect(providerSessionOf(secondSid)).not.toBe(psid);
    const written = await runGatehouse([
      'revoke',
      '--provider-session',
      String(psid),
      '--provider',
      'dev',
      '--app',
      'wiki',
      '--revocations-dir',
      revocationsDir,
    ]);
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(
      `Sessions signed in through provider session ${psid} (provider dev) at or before `,
    );
    await refusedEverywhere(first.cookie, 'first');
    for (const [i, origin] of origins.entries())
      expect(await forwarded(origin, second.cookie, `/second-${i}`, upstreamPaths)).toBe(true);
  });

  it('gatehouse revoke --revocations-dir ends a user in every replica', async () => {
    const { cookie } = await signIn(origins[0] as string);
    const before = new Date(Date.now() + 1_000).toISOString();
    const written = await runGatehouse([
      'revoke',
      '--user',
      'Alice@Example.com',
      '--app',
      'wiki',
      '--before',
      before,
      '--reason',
      'INC-7',
      '--revocations-dir',
      revocationsDir,
    ]);
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toContain('default/wiki');
    // Confirmed by each replica sharing the directory (the guarded one has stopped by now; the
    // stray one does not read it).
    expect(written.stdout).toContain('Applied by every running replica: 3 running replicas');
    for (const sidecar of sidecars) expect(written.stdout).toContain(`:${sidecar.port}`);
    await refusedEverywhere(cookie, 'revoked');
    const applied = await sidecars[2]?.waitForLine(
      (l) => l.type === 'revocation_applied' && l.user === 'alice@example.com',
    );
    expect(applied).toMatchObject({ reason: 'INC-7' });
  });
});
