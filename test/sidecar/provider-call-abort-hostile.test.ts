import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { eventually, type RawClient, sleep } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * A call to the identity provider made for one client (a sign-in's code exchange) or for a
 * session (a refresh) must not outlive its reason: a client that leaves while the provider holds
 * its call gives its turn back at once, and the end of the shutdown grace ends every call, so the
 * lines of the requests that waited on them are written before the sidecar exits. The built
 * sidecar, as shipped, against a provider that holds every call it cannot answer.
 */
let provider: ForgedProvider;
let upstream: TestUpstream;

beforeAll(async () => {
  provider = await startForgedProvider('gatehouse');
  upstream = await startUpstream();
});
afterAll(async () => {
  await provider?.close();
  await upstream?.close();
});

/** Sends a callback from `from` with a code the provider never issued (it holds such calls). */
async function forgedCallback(gateway: SignInSidecar, from: string): Promise<RawClient> {
  const s = await gateway.signIns.start(from);
  return gateway.signIns.send(`/.gatehouse/callback?state=${s.state}&code=forged-${s.state}`, from, s.cookie);
}

const linesOf = (gateway: SignInSidecar, match: (l: JsonLine) => boolean) =>
  gateway.process.lines.filter(match);
const isCallbackLine = (l: JsonLine) =>
  l.type === 'request' && String(l.uri).startsWith('/.gatehouse/callback');

describe('calls to the provider end with their reason', () => {
  let gateway: SignInSidecar;
  beforeAll(async () => {
    provider.forgery = 'unknown_codes_hang';
    gateway = await startSignInSidecar(provider.issuer, upstream.url);
  });
  afterAll(() => gateway?.stop());

  it('a client that resets while the provider holds its callback: the call is aborted and its turn given back', async () => {
    const before = provider.hits.get('/token') ?? 0;
    const atProvider = await Promise.all(
      Array.from({ length: 8 }, () => forgedCallback(gateway, '127.0.0.4')),
    );
    await eventually('the 8 turns of the address taken', () => provider.tokenRequests.open === 8);
    const inLine = await forgedCallback(gateway, '127.0.0.4');
    await sleep(200);
    expect(provider.tokenRequests.open).toBe(8);
    expect(inLine.received()).toBe(''); // waits for a turn

    for (const c of atProvider) c.socket.resetAndDestroy();
    // The 8 calls are aborted (the provider sees its connections close) and the one in line
    // gets its turn at once, not when the provider timeout ends them 10 s later.
    await eventually('the calls aborted', () => (provider.hits.get('/token') ?? 0) === before + 9, 1_000);
    // The provider hears of the closes as they reach it.
    await eventually(
      'only the one from the line open at the provider',
      () => provider.tokenRequests.open === 1,
    );
    await eventually(
      'a line for each',
      () => linesOf(gateway, (l) => l.type === 'login_failed' && l.reason === 'client_gone').length === 8,
    );
    const failures = linesOf(gateway, (l) => l.type === 'login_failed' && l.reason === 'client_gone');
    expect(failures.every((l) => l.detail === 'at_provider')).toBe(true);
    const requests = linesOf(gateway, isCallbackLine);
    expect(requests).toHaveLength(8);
    expect(requests.every((l) => l.status === 499 && l.outcome === 'client_abort')).toBe(true);

    inLine.socket.resetAndDestroy();
    await eventually('no call left open at the provider', () => provider.tokenRequests.open === 0, 1_000);
  });

  it('a client that leaves while in line: never sent to the provider, logged as gone', async () => {
    const before = provider.hits.get('/token') ?? 0;
    const held = await Promise.all(Array.from({ length: 8 }, () => forgedCallback(gateway, '127.0.0.7')));
    await eventually('the 8 turns of the address taken', () => provider.tokenRequests.open === 8);
    const inLine = await forgedCallback(gateway, '127.0.0.7');
    await sleep(100);
    const lines = gateway.process.lines.length;
    inLine.socket.resetAndDestroy();
    const failed = await gateway.process.waitForLine(
      (l) => gateway.process.lines.indexOf(l) >= lines && l.type === 'login_failed',
    );
    expect([failed.reason, failed.detail]).toEqual(['client_gone', 'waiting']);
    const request = await gateway.process.waitForLine(
      (l) => gateway.process.lines.indexOf(l) >= lines && isCallbackLine(l),
    );
    expect([request.status, request.outcome]).toEqual([499, 'client_abort']);
    expect(provider.hits.get('/token')).toBe(before + 8);
    for (const c of held) c.socket.resetAndDestroy();
    await eventually('no call left open at the provider', () => provider.tokenRequests.open === 0, 1_000);
  });
});

describe('shutdown with calls at the provider', () => {
  it('a refresh and a callback held by the provider: both requests logged, the sidecar exits within the grace', async () => {
    const gateway = await startSignInSidecar(provider.issuer, upstream.url, ['--shutdown-grace', '2s']);
    try {
      // A session whose provider tokens are due in a second; the provider holds its refresh.
      provider.forgery = 'refresh_hangs';
      const session = await gateway.signIns.complete('127.0.0.5');
      await sleep(2_100);
      provider.forgery = 'unknown_codes_hang';
      const signedIn = await gateway.signIns.send('/private/report', '127.0.0.5', session);
      await eventually('the refresh at the provider', () => provider.tokenRequests.open === 1);
      const callback = await forgedCallback(gateway, '127.0.0.6');
      await eventually('the callback at the provider', () => provider.tokenRequests.open === 2);

      const began = performance.now();
      const exit = await gateway.stop();
      const took = performance.now() - began;
      expect(exit).toBe(0);
      expect(took).toBeLessThan(2_800);
      expect(provider.tokenRequests.open).toBe(0);

      const refreshed = linesOf(gateway, (l) => l.type === 'request' && l.uri === '/private/report');
      expect(refreshed).toHaveLength(1);
      const refreshFailed = linesOf(gateway, (l) => l.type === 'session_refresh_failed');
      expect(refreshFailed.map((l) => l.reason)).toEqual(['shutting_down']);
      const callbacks = linesOf(gateway, (l) => isCallbackLine(l) && l.clientIp === '127.0.0.6');
      expect(callbacks).toHaveLength(1);
      const failed = linesOf(gateway, (l) => l.type === 'login_failed');
      expect(failed.map((l) => [l.reason, l.detail])).toEqual([['shutting_down', 'at_provider']]);
      // Every line comes before the last one.
      const all = gateway.process.lines;
      expect(all.at(-1)?.type).toBe('sidecar_stopped');
      expect(signedIn.isClosed() && callback.isClosed()).toBe(true);
    } finally {
      await gateway.stop();
    }
  }, 20_000);
});
