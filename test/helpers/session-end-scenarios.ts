import { request } from 'undici';
import { expect } from 'vitest';
import { eventually, within } from './hostile.ts';
import { HttpBrowser, signInWithDevProvider } from './http-browser.ts';
import {
  type BackchannelProvider,
  cookieHeader,
  endAtProvider,
  forwarded,
  logoutToken,
  openEventStream,
  openLongPoll,
  openSocket,
  percentile,
  postLogoutToken,
  signIn,
  signOut,
} from './session-ends.ts';
import type { SidecarProcess } from './sidecar-process.ts';

/** Three replicas of one application (cluster or standalone), their upstream and their provider. */
export interface Replicas {
  readonly origins: readonly string[];
  readonly sidecars: readonly SidecarProcess[];
  readonly upstreamPaths: string[];
  readonly idp: BackchannelProvider;
}

/** Milliseconds from `since` until every replica refuses the cookie (polled every 5 ms). */
async function refusedEverywhere(r: Replicas, cookie: string, since: number, tag: string): Promise<number> {
  const done = r.origins.map(() => false);
  while (done.includes(false)) {
    if (performance.now() - since > 5_000) throw new Error(`${tag}: cookie still forwarded after 5 s`);
    await Promise.all(
      r.origins.map(async (origin, i) => {
        if (!done[i]) done[i] = !(await forwarded(origin, cookie, `/${tag}-${i}`, r.upstreamPaths));
      }),
    );
    if (done.includes(false)) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - since;
}

/** A label fit for a URL path. */
const slug = (label: string): string => label.replace(/[^A-Za-z0-9]+/g, '-');

function report(what: string, ms: number[]): void {
  console.warn(
    `${what}: p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms; rounds: ${ms.map((m) => m.toFixed(0)).join(' ')}`,
  );
}

/**
 * Rounds of: sign in on A, check the cookie works on every replica, open a WebSocket and a long
 * poll through B and a stream of events through C, sign out through A; the cookie is refused on
 * every replica, the WebSocket closes, the long poll is answered 401 and the stream is cut.
 */
export async function signOutRounds(r: Replicas, rounds: number, label: string): Promise<void> {
  const [a, b, c] = r.origins as [string, string, string];
  const tag = slug(label);
  const refusedMs: number[] = [];
  const closedMs: number[] = [];
  const streamMs: number[] = [];
  const pollMs: number[] = [];
  const counted = new Set<unknown>();
  for (let round = 0; round < rounds; round++) {
    const { cookie } = await signIn(a);
    for (const [i, origin] of r.origins.entries())
      expect(await forwarded(origin, cookie, `/${tag}-${round}-before-${i}`, r.upstreamPaths)).toBe(true);
    const socket = await openSocket(b, cookie);
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    const stream = await openEventStream(c, cookie, `/events-${tag}-${round}`);
    const poll = await openLongPoll(b, cookie, `/poll-${tag}-${round}`, r.upstreamPaths);
    const started = performance.now();
    expect(await signOut(a, cookie)).toBe(200);
    refusedMs.push(await refusedEverywhere(r, cookie, started, `${tag}-${round}-after`));
    closedMs.push((await closed) - started);
    const streamEnd = await within(stream.ended, 5_000, `${tag} round ${round}: the stream of events cut`);
    expect(streamEnd.how).toBe('error'); // cut mid-body, not a clean end the client would take as complete
    streamMs.push(streamEnd.at - started);
    const answer = await within(poll.answered, 5_000, `${tag} round ${round}: the long poll answered`);
    expect(answer.status).toBe(401);
    pollMs.push(answer.at - started);
    const reported = await r.sidecars[0]?.waitForLine(
      (l) => l.type === 'session_end_reported' && !counted.has(l),
      5_000,
    );
    if (reported) counted.add(reported);
    // A slow round says where its time went (the report's tries; the operator logs its own part).
    if ((refusedMs.at(-1) ?? 0) > 500) {
      const applied = r.sidecars[1]?.lines.filter((l) => l.type === 'revocation_applied').at(-1);
      console.warn(
        `${label} round ${round}, slow: sign-out at ${new Date(performance.timeOrigin + started).toISOString()}; A's report ${JSON.stringify(reported)}; B's last revocation_applied ${JSON.stringify(applied)}`,
      );
    }
  }
  // Each sign-out on A was handed on once, and says how long that took.
  expect(counted.size).toBe(rounds);
  for (const line of counted)
    expect(line).toMatchObject({ attempts: expect.any(Number), durationMs: expect.any(Number) });
  report(`${label}: sign-out on A → cookie refused on every replica`, refusedMs);
  report(`${label}: sign-out on A → WebSocket through B closed`, closedMs);
  report(`${label}: sign-out on A → stream of events through C cut`, streamMs);
  report(`${label}: sign-out on A → long poll through B answered 401`, pollMs);
  expect(percentile(refusedMs, 99)).toBeLessThanOrEqual(1_000);
  expect(percentile(closedMs, 99)).toBeLessThanOrEqual(1_000);
  expect(percentile(streamMs, 99)).toBeLessThanOrEqual(1_000);
  expect(percentile(pollMs, 99)).toBeLessThanOrEqual(1_000);
  // Each replica that ended one said so, with the request it ended.
  const cut = (i: number) =>
    r.sidecars[i]?.lines.filter((l) => l.type === 'response_closed' && l.reason === 'session_revoked') ?? [];
  // The lines come through the sidecars' stdout, a moment after the client saw the cut.
  await eventually(
    `a response_closed line on C and B for each of the ${rounds} rounds`,
    () => cut(2).length >= rounds && cut(1).length >= rounds,
    5_000,
  );
}

/**
 * Rounds of: sign in, end the session at the provider itself (its own back-channel logout calls
 * replica A); the cookie is refused on every replica.
 */
export async function providerLogoutRounds(r: Replicas, rounds: number, label: string): Promise<void> {
  const [a] = r.origins as [string];
  const tag = slug(label);
  const refusedMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const { browser, cookie } = await signIn(a);
    expect(await forwarded(a, cookie, `/${tag}-${round}-before`, r.upstreamPaths)).toBe(true);
    const started = performance.now();
    await endAtProvider(browser, r.idp.provider.issuer);
    refusedMs.push(await refusedEverywhere(r, cookie, started, `${tag}-${round}-after`));
  }
  report(`${label}: provider back-channel logout → cookie refused on every replica`, refusedMs);
  expect(r.idp.deliveries.filter((d) => !d.startsWith('ok'))).toEqual([]);
  expect(percentile(refusedMs, 99)).toBeLessThanOrEqual(1_000);
  const logged = r.sidecars[0]?.lines.filter((l) => l.type === 'backchannel_logout') ?? [];
  expect(logged.length).toBeGreaterThanOrEqual(rounds);
  expect(logged.at(-1)).toMatchObject({ provider: 'dev', sub: 'alice' });
  expect(typeof logged.at(-1)?.providerSession).toBe('string');
}

/** Every malformed or hostile logout token is refused with its reason, and no session ends. */
export async function refusedLogoutTokens(r: Replicas): Promise<void> {
  const [a] = r.origins as [string];
  const { cookie } = await signIn(a);
  const { generateKeyPair, exportJWK } = await import('jose');
  const forged = {
    ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey)),
    kid: r.idp.key.kid,
  };
  const issuer = r.idp.provider.issuer;
  const valid = { iss: issuer, aud: 'wiki', sub: 'alice' };
  const replayed = await logoutToken(r.idp.key, { ...valid, sub: 'nobody-signed-in' });
  expect((await postLogoutToken(a, replayed)).status).toBe(200); // accepted once: nobody's session
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Promise<string>][] = [
    ['bad_signature', logoutToken(forged as typeof r.idp.key, valid)],
    ['wrong_audience', logoutToken(r.idp.key, { ...valid, aud: 'another-client' })],
    ['unknown_issuer', logoutToken(r.idp.key, { ...valid, iss: 'https://attacker.example' })],
    ['replayed_jti', Promise.resolve(replayed)],
    ['stale_iat', logoutToken(r.idp.key, { ...valid, iat: now - 3_600 })],
    ['nonce_present', logoutToken(r.idp.key, { ...valid, nonce: 'n-0S6_WzA2Mj' })],
    ['missing_events', logoutToken(r.idp.key, valid, { omit: ['events'] })],
    ['missing_sid_and_sub', logoutToken(r.idp.key, valid, { omit: ['sub'] })],
  ];
  for (const [reason, token] of cases) {
    const answer = await postLogoutToken(a, await token);
    expect(answer.status, reason).toBe(400);
    expect(JSON.parse(answer.body), reason).toEqual({ error: 'invalid_request', error_description: reason });
    await r.sidecars[0]?.waitForLine(
      (l) => l.type === 'backchannel_logout_refused' && l.reason === reason,
      5_000,
    );
  }
  // Nothing ended: the session still works everywhere, a moment later too.
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const [i, origin] of r.origins.entries())
    expect(await forwarded(origin, cookie, `/after-refusals-${i}`, r.upstreamPaths)).toBe(true);
}

/** Whether the sidecar at `origin` still takes the session of this cookie (its userinfo answers 200). */
export async function sessionAlive(origin: string, cookie: string): Promise<boolean> {
  const response = await request(`${origin}/.gatehouse/userinfo`, { headers: { cookie } });
  await response.body.dump();
  return response.statusCode === 200;
}

/**
 * "Sign out on every device": `login` signs in through each replica (three devices), someone else
 * (`bystander`) through B; a second later the device on B posts the sign-out page's second button
 * (`?everywhere=1`). Every device's session is refused on every replica within `withinMs`, the
 * bystander's goes on, and `login` can sign in again a second later. Resolves with the time until
 * the last refusal. Users are told apart by their userinfo (200 while the session lives), so
 * users the policies refuse serve as well as any.
 */
export async function signOutEverywhereRound(
  r: Replicas,
  login: string,
  bystander: string,
  withinMs: number,
): Promise<number> {
  const [a, b, c] = r.origins as [string, string, string];
  const devices = [await signInAnyway(a, login), await signInAnyway(b, login), await signInAnyway(c, login)];
  const other = await signInAnyway(b, bystander);
  for (const origin of r.origins)
    for (const device of [...devices, other]) expect(await sessionAlive(origin, device)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // signed in before the second of the end
  const began = performance.now();
  expect([200, 303]).toContain(await signOut(b, devices[1] as string, {}, '?everywhere=1'));
  for (const origin of r.origins)
    for (const device of devices)
      await eventually(
        `${login}'s session refused at ${origin}`,
        async () => !(await sessionAlive(origin, device)),
        withinMs,
      );
  const elapsed = performance.now() - began;
  for (const origin of r.origins) expect(await sessionAlive(origin, other)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  expect(await sessionAlive(a, await signInAnyway(c, login))).toBe(true);
  return elapsed;
}

/** Signs `login` in through `origin`, whatever the policies then answer; resolves with its cookie header. */
export async function signInAnyway(origin: string, login: string): Promise<string> {
  const browser = new HttpBrowser();
  await signInWithDevProvider(browser, `${origin}/home`, login);
  return cookieHeader(browser, origin);
}
