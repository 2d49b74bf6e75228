import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { eventually, type RawClient, sleep, statusesOf } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import type { LoggingProcess } from '../helpers/logging-process.ts';
import { headerOf, type RawSignIn, type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * Anyone can start a sign-in and bring its callback: each callback makes the sidecar call the
 * identity provider's token endpoint with the application's client credentials. The built
 * sidecar as shipped, against a provider that holds every unknown code unanswered (a provider
 * slow under a flood, the worst case: each call holds its connection for the provider timeout).
 * Before the bound, 2,000 callbacks from one address were 2,000 connections open at the
 * provider at once, and as many descriptors in the sidecar.
 */
let provider: ForgedProvider;
let upstream: TestUpstream;
let gateway: SignInSidecar;
let sidecar: LoggingProcess;
let signIns: RawSignIn;
const send: RawSignIn['send'] = (...args) => signIns.send(...args);
const startSignIn: RawSignIn['start'] = (from) => signIns.start(from);

beforeAll(async () => {
  provider = await startForgedProvider('gatehouse');
  provider.forgery = 'unknown_codes_hang';
  upstream = await startUpstream();
  gateway = await startSignInSidecar(provider.issuer, upstream.url);
  sidecar = gateway.process;
  signIns = gateway.signIns;
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Starts `count` sign-ins from `from` and sends each one's callback with a code the provider never issued. */
async function floodCallbacks(count: number, from: string): Promise<RawClient[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startSignIn(from)));
  return Promise.all(
    started.map(async (s) => {
      const client = await send(
        `/.gatehouse/callback?state=${s.state}&code=forged-${s.state}`,
        from,
        s.cookie,
      );
      codeOf.set(client, `forged-${s.state}`);
      return client;
    }),
  );
}

/** The code each flooding callback carries, so the test knows which ones the provider holds. */
const codeOf = new Map<RawClient, string>();
/** Unanswered callbacks of `clients` that wait in line (the provider does not hold their code). */
const inLine = (clients: RawClient[]): RawClient[] =>
  clients.filter(
    (c) =>
      statusOf(c) === undefined &&
      !c.isClosed() &&
      !provider.tokenRequests.heldCodes.has(codeOf.get(c) ?? ''),
  );

const statusOf = (c: RawClient): number | undefined => statusesOf(c.received())[0];
const loginFailures = (reason: string, detail?: string) =>
  sidecar.lines.filter(
    (l: JsonLine) =>
      l.type === 'login_failed' && l.reason === reason && (detail === undefined || l.detail === detail),
  ).length;

describe('a flood of sign-in callbacks', () => {
  it('one address: 8 calls at the provider, 32 in line, the rest 503 at once; a user elsewhere signs in', async () => {
    const flood = await floodCallbacks(300, '127.0.0.1');
    await eventually(
      'the calls beyond the line refused',
      () => flood.filter((c) => statusOf(c) === 503).length >= 260,
    );
    await eventually('the turns taken at the provider', () => provider.tokenRequests.open >= 8);
    await sleep(200);
    expect(provider.tokenRequests.open).toBe(8);
    const refused = flood.filter((c) => statusOf(c) === 503);
    expect(refused.length).toBe(260);
    const first = refused[0]?.received() ?? '';
    expect(headerOf(first, 'retry-after')).toBe('5');
    expect(first).toMatch(/Too many sign-ins are in progress/);
    // Its event lines are written in batches: they may follow the answers by a moment. The line
    // was not full: this address held its own share of it.
    await eventually('an event for each', () => loginFailures('provider_busy', 'caller_queue_full') === 260);

    // A person at another address signs in through the whole flow while the flood holds its 8.
    const began = performance.now();
    const session = await signIns.complete('127.0.0.2');
    expect(session).toMatch(/^_gatehouse=/); // the session
    expect(performance.now() - began).toBeLessThan(2_000);
    expect(provider.tokenRequests.peak).toBe(9);

    // Half of those in line reset their connections: they leave the line, and as many new
    // callbacks from the flooding address are taken into it instead of refused. (Which of the
    // flood are in line is read from the provider: connections may be accepted out of order.)
    expect(provider.tokenRequests.heldCodes.size).toBe(8);
    const queued = inLine(flood);
    expect(queued).toHaveLength(32);
    for (const c of queued.slice(0, 16)) c.socket.resetAndDestroy();
    // One in line half-closes (FIN after its request): it still waits, and gets its answer.
    const halfClosed = queued[16] as RawClient;
    halfClosed.socket.end();
    await eventually('the reset ones counted as gone', () => loginFailures('client_gone', 'waiting') === 16);
    const more = await floodCallbacks(20, '127.0.0.1');
    await sleep(500);
    expect(more.filter((c) => statusOf(c) === 503).length).toBe(4);

    // The ones in line give up at 5 s; the 8 at the provider end with its 10 s timeout.
    await eventually('every callback answered', () => [...flood, ...more].every((c) => c.isClosed()), 15_000);
    const tally = (cs: RawClient[]) => cs.map(statusOf).filter((s) => s !== undefined);
    const statuses = tally([...flood, ...more]);
    expect(statuses.filter((s) => s === 502)).toHaveLength(8);
    expect(statuses.filter((s) => s === 503)).toHaveLength(300 + 20 - 8 - 16);
    await eventually(
      'an event for each one in line',
      () => loginFailures('provider_busy', 'queue_timeout') === 32,
    );
    expect(statusOf(halfClosed)).toBe(503);
    expect(provider.hits.get('/token')).toBe(9);
    await eventually('no call left open at the provider', () => provider.tokenRequests.open === 0);
  }, 40_000);

  it('forty addresses: no more than 24 calls at the provider at once (the rest stay for signed-in users)', async () => {
    provider.tokenRequests.peak = 0;
    const floods = await Promise.all(
      Array.from({ length: 40 }, (_, i) => floodCallbacks(6, `127.0.1.${i + 1}`)),
    );
    const all = floods.flat();
    await eventually(
      'the line filled and the rest refused',
      () => all.filter((c) => statusOf(c) === 503).length >= 240 - 24 - 128,
    );
    await eventually('the turns taken at the provider', () => provider.tokenRequests.open >= 24);
    await sleep(300);
    expect(provider.tokenRequests.open).toBe(24);
    expect(provider.tokenRequests.peak).toBe(24);
    for (const c of all) c.socket.resetAndDestroy();
    await eventually('no call left open at the provider', () => provider.tokenRequests.open === 0, 15_000);
  }, 30_000);

  it('a WebSocket handshake to the callback never calls the provider', async () => {
    // The resets of the test before free turns that callbacks still in line (reset too, but not
    // yet heard of) may take for a moment: wait until the provider has been quiet for 500 ms.
    let before = -1;
    for (let quiet = 0, polls = 0; quiet < 25 && polls < 500; polls++) {
      const now = provider.hits.get('/token') ?? 0;
      quiet = now === before && provider.tokenRequests.open === 0 ? quiet + 1 : 0;
      before = now;
      await sleep(20);
    }
    const lines = sidecar.lines.length;
    const s = await startSignIn('127.0.0.3');
    const client = await send(
      `/.gatehouse/callback?state=${s.state}&code=forged`,
      '127.0.0.3',
      s.cookie,
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n',
    );
    expect(statusesOf(await client.waitFor(/\r\n\r\n/))[0]).toBe(400);
    const line = await sidecar.waitForLine(
      (l) => sidecar.lines.indexOf(l) >= lines && l.type === 'request' && l.status === 400,
    );
    expect(line.error).toBe('upgrade_not_supported');
    expect(provider.hits.get('/token') ?? 0).toBe(before);
  });
});
