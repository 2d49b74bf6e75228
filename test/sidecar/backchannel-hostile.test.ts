import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKCHANNEL_LOGOUTS_IN_ALL,
  BACKCHANNEL_LOGOUTS_PER_ADDRESS,
} from '../../sidecar/src/auth/auth-runtime.ts';
import { BODY_WITH_HEAD_MS } from '../../sidecar/src/routes/backchannel-logout.ts';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { dial, eventually, type RawClient, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The back-channel logout route is open to anyone who can reach the sidecar, and it reads its
// body itself (up to 16 KiB, at the body's minimum rate: 20 s before the first byte is due).
// Before a share per address, one address that sent the heads of 100 logouts and no bodies held
// all 100 connections of a sidecar started with --max-connections 100, and a new client from
// elsewhere was closed on accept. A logout whose body comes with its head (as a provider sends
// it) takes no share: before, clients of the provider's own address that held the shares got its
// logouts refused. The built sidecar as shipped, with a lower cap to keep it small.

let provider: ForgedProvider;
let upstream: TestUpstream;
let gateway: SignInSidecar;
const opened: RawClient[] = [];

beforeAll(async () => {
  provider = await startForgedProvider('gatehouse');
  upstream = await startUpstream();
  gateway = await startSignInSidecar(provider.issuer, upstream.url, ['--max-connections', '100']);
});
afterAll(async () => {
  for (const c of opened) c.socket.destroy();
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

async function logoutHead(from: string, extra = ''): Promise<RawClient> {
  const socket = await dial(gateway.port, from);
  if (!socket) throw new Error(`no connection from ${from}`);
  const client = watchSocket(socket);
  opened.push(client);
  socket.write(
    `POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: ${gateway.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n${extra}\r\n`,
  );
  return client;
}

const statusOf = (c: RawClient): number | undefined => statusesOf(c.received())[0];

/** Slow logouts from an address, one more than its share: exactly the share is held, the one beyond refused. */
async function expectWholeShare(from: string): Promise<void> {
  const slow: RawClient[] = [];
  for (let i = 0; i <= BACKCHANNEL_LOGOUTS_PER_ADDRESS; i++) slow.push(await logoutHead(from));
  await eventually(
    'one beyond the share refused',
    () => slow.filter((c) => statusOf(c) === 503).length === 1,
  );
  await sleep(BODY_WITH_HEAD_MS);
  expect(slow.filter((c) => statusOf(c) === undefined)).toHaveLength(BACKCHANNEL_LOGOUTS_PER_ADDRESS);
  for (const c of slow) c.socket.destroy();
}
const busyRefusals = () =>
  gateway.process.lines.filter(
    (l: JsonLine) => l.type === 'backchannel_logout_refused' && l.reason === 'busy',
  ).length;

describe('back-channel logouts that never send their body', () => {
  it(`one address holds ${BACKCHANNEL_LOGOUTS_PER_ADDRESS} at once; the rest are answered 503 unread, and a new client is served`, async () => {
    expect(BACKCHANNEL_LOGOUTS_IN_ALL).toBeGreaterThan(100);
    const flood: RawClient[] = [];
    for (let i = 0; i < 100; i++) flood.push(await logoutHead('127.0.0.1'));
    await eventually(
      'all but the share answered',
      () => flood.filter((c) => statusOf(c) === 503).length === 84,
    );
    expect(flood.filter((c) => statusOf(c) === undefined)).toHaveLength(BACKCHANNEL_LOGOUTS_PER_ADDRESS);
    const refused = flood.find((c) => statusOf(c) === 503)?.received() ?? '';
    expect(refused).toMatch(/^retry-after: 5\r$/im);
    expect(refused).toMatch(/temporarily_unavailable/);
    await eventually('an event for each', () => busyRefusals() === 84);

    // The cap is reached; the connections answered are idle, so a new client gets one.
    const other = watchSocket(
      (await dial(gateway.port, '127.0.0.2')) as NonNullable<Awaited<ReturnType<typeof dial>>>,
    );
    opened.push(other);
    other.socket.write(
      `GET /.gatehouse/login?rd=/ HTTP/1.1\r\nHost: ${gateway.host}\r\nConnection: close\r\n\r\n`,
    );
    await other.waitFor(/^HTTP\/1\.1 302/, 5_000);

    // Another address has its own share: its logout is read (and refused for its empty token).
    const elsewhere = await logoutHead('127.0.0.3', 'Connection: close\r\n');
    elsewhere.socket.write('x'.repeat(16_000));
    await elsewhere.waitFor(/^HTTP\/1\.1 400/, 5_000);
    expect(elsewhere.received()).toMatch(/missing_token/);

    // Reset the 16 held: their share comes back.
    for (const c of flood.filter((h) => statusOf(h) === undefined)) c.socket.resetAndDestroy();
    await sleep(300);
    const again = await logoutHead('127.0.0.1', 'Connection: close\r\n');
    again.socket.write('x'.repeat(16_000));
    await again.waitFor(/^HTTP\/1\.1 400/, 5_000);
    for (const c of flood) c.socket.destroy();
  });
});

describe('back-channel logouts whose body comes with the head', () => {
  it(`are read while the shares of their own address are held; one whose body is ${BODY_WITH_HEAD_MS} ms late is refused`, async () => {
    // Heads without bodies from the provider's address (one address for every client behind an
    // ingress whose forwarded address is not trusted) hold its share.
    const start = busyRefusals();
    const held: RawClient[] = [];
    for (let i = 0; i < BACKCHANNEL_LOGOUTS_PER_ADDRESS + 4; i++) held.push(await logoutHead('127.0.0.6'));
    await eventually(
      'the share held, the rest refused and logged',
      () => held.filter((c) => statusOf(c) === 503).length === 4 && busyRefusals() - start === 4,
    );
    const refusedBefore = busyRefusals();
    // The provider's logout: head and body in one write, then one whose body follows 100 ms later.
    const body = `logout_token=${'x'.repeat(200)}.${'y'.repeat(200)}.${'z'.repeat(100)}`;
    const head = `POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: ${gateway.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    for (const gapMs of [0, 100]) {
      const socket = await dial(gateway.port, '127.0.0.6');
      if (!socket) throw new Error('no connection');
      const provider = watchSocket(socket);
      opened.push(provider);
      if (gapMs === 0) socket.write(head + body);
      else {
        socket.write(head);
        await sleep(gapMs);
        socket.write(body);
      }
      await provider.waitFor(/^HTTP\/1\.1 \d{3}/, 5_000);
      // Read and verified (a token this provider never signed), not refused for want of a share.
      expect({ gapMs, status: statusOf(provider) }).toEqual({ gapMs, status: 400 });
      expect(provider.received()).toMatch(/"error_description":"malformed"/);
    }
    expect(busyRefusals()).toBe(refusedBefore);
    // A body later than that waits for a share like any slow one: none is free.
    // Clients of that address that reset within the wait take no share, and leave none taken.
    for (let i = 0; i < 20; i++) {
      const reset = await logoutHead('127.0.0.6');
      setTimeout(() => reset.socket.resetAndDestroy(), 50);
    }
    await sleep(BODY_WITH_HEAD_MS + 100);
    expect(held.filter((c) => statusOf(c) === undefined)).toHaveLength(BACKCHANNEL_LOGOUTS_PER_ADDRESS);
    const sent = performance.now();
    const late = await logoutHead('127.0.0.6', 'Connection: close\r\n');
    await late.waitFor(/^HTTP\/1\.1 503/, 5_000);
    expect(performance.now() - sent).toBeGreaterThanOrEqual(BODY_WITH_HEAD_MS - 10);
    // Every share comes back when its client resets: as many slow ones are held again, not more.
    for (const c of held) c.socket.resetAndDestroy();
    late.socket.destroy();
    await sleep(300);
    await expectWholeShare('127.0.0.6');
  });
});

describe('back-channel logouts that half-close mid-body', () => {
  it('give their shares back: as many slow ones are held again, not more', async () => {
    const from = '127.0.0.9';
    const halfSent: RawClient[] = [];
    for (let i = 0; i < BACKCHANNEL_LOGOUTS_PER_ADDRESS; i++) {
      const client = await logoutHead(from);
      client.socket.write('logout_token=');
      halfSent.push(client);
    }
    // Past the wait each holds a share; then each sends FIN with its body unfinished.
    await sleep(BODY_WITH_HEAD_MS + 100);
    for (const c of halfSent) c.socket.end();
    await eventually('the half-closed ones closed', () => halfSent.every((c) => c.isClosed()));
    await expectWholeShare(from);
  });
});

describe('back-channel logouts that ask for 100-continue', () => {
  it('get the 100 once their body is to be read; one declared too large is answered without it, and its connection closes', async () => {
    const read = await logoutHead('127.0.0.4', 'Expect: 100-continue\r\n');
    await read.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/, 5_000);
    read.socket.write('x'.repeat(16_000));
    await read.waitFor(/^HTTP\/1\.1 400/m, 5_000);
    expect(read.received()).toMatch(/missing_token/);

    const socket = await dial(gateway.port, '127.0.0.4');
    if (!socket) throw new Error('no connection');
    const large = watchSocket(socket);
    opened.push(large);
    socket.write(
      `POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: ${gateway.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`,
    );
    await large.waitFor(/^HTTP\/1\.1 400/, 5_000);
    expect(large.received()).not.toMatch(/100 Continue/);
    expect(large.received()).toMatch(/too_large/);
    expect(await large.until(() => large.isClosed(), 2_000)).toBe(true);
  });
});
