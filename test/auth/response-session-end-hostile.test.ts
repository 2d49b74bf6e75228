import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, watchSocket, within } from '../helpers/hostile.ts';
import {
  closedUpstream,
  configInstaller,
  inProgressApplication,
  inProgressStack,
  lineOf,
  longPoll,
  revokingSession,
  signedIn,
  upstreamDone,
} from '../helpers/requests-in-progress.ts';
import { openEventStream } from '../helpers/session-ends.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// Hostile and broken clients at every phase of a request in progress when its session ends:
// queued for the application's connections, half-closed, mid-upload, already reset, in the middle
// of a WebSocket handshake, and the sidecar's shutdown with a stream open. Each request is
// answered or cut once, written once, and nothing of it is left holding a slot.

let stack: SignInStack;
const install = configInstaller(() => stack);
beforeAll(async () => {
  const engineer = (name: string) => ({ email: `${name}@example.com`, name, groups: ['engineering'] });
  stack = await startSignInStack({
    application: inProgressApplication,
    upstreamConnections: 2,
    users: { alice: engineer('alice'), carol: engineer('carol'), dave: engineer('dave') },
  });
});
afterAll(async () => stack?.close());

/** A raw connection that has sent `head` (and, when given, part of a body). */
async function rawRequest(port: number, head: string, body = '') {
  const socket = connect(port, '127.0.0.1');
  const client = watchSocket(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(head + body);
  return client;
}

describe('a request in progress when its session ends', () => {
  it('queued for the application\u2019s connections: answered 401 at once, never sent on, its place in line given up', async () => {
    // Both connections to the application are taken by long polls of two other users (a user
    // gets one of two connections at most: the fair share).
    const holders = [await signedIn(stack, 'carol'), await signedIn(stack, 'dave')];
    const queued = await signedIn(stack);
    const held = [
      await longPoll(stack, holders[0]?.cookie ?? '', '/hold/poll-1'),
      await longPoll(stack, holders[1]?.cookie ?? '', '/hold/poll-2'),
    ];
    const waiting = request(`${stack.origin}/queued/page`, {
      headers: { cookie: queued.cookie, accept: 'application/json' },
    }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await sleep(200);
    expect(stack.upstream.seen.some((s) => s.url === '/queued/page')).toBe(false);
    install(revokingSession('queued', queued.sessionId));
    expect(await within(waiting, 1_000, 'the queued request answered')).toMatchObject({ status: 401 });
    expect(await lineOf(stack, '/queued/page')).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'session_revoked',
      upstreamMs: null,
    });
    // The holder's poll ends too; the connection then serves others, and never the revoked request.
    for (const [i, holder] of holders.entries()) install(revokingSession(`holder-${i}`, holder.sessionId));
    for (const poll of held)
      expect((await within(poll.answered, 1_000, 'the held poll answered')).status).toBe(401);
    const after = await signedIn(stack);
    const page = await request(`${stack.origin}/after/page`, { headers: { cookie: after.cookie } });
    expect(page.statusCode).toBe(200);
    await page.body.dump();
    expect(stack.upstream.seen.some((s) => s.url === '/queued/page')).toBe(false);
  }, 30_000);

  it('queued behind a request of the same session, both ended at once: the one queued is not sent on when the other frees its place', async () => {
    const { cookie, sessionId } = await signedIn(stack);
    // The session holds its share of the connections (one of two); its next request waits.
    const held = await longPoll(stack, cookie, '/share/poll');
    const waiting = request(`${stack.origin}/share-queued/page`, {
      headers: { cookie, accept: 'application/json' },
    }).then((r) => r.statusCode);
    await sleep(200);
    install(revokingSession('share', sessionId));
    expect((await within(held.answered, 1_000, 'the held poll answered')).status).toBe(401);
    expect(await within(waiting, 1_000, 'the queued request answered')).toBe(401);
    await sleep(300);
    expect(stack.upstream.seen.some((s) => s.url === '/share-queued/page')).toBe(false);
  }, 20_000);

  it('from a client that half-closed after its request: the 401 still reaches it', async () => {
    const { cookie, sessionId } = await signedIn(stack);
    const client = await rawRequest(
      stack.sidecar.port,
      `GET /half-closed/poll HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ${cookie}\r\naccept: application/json\r\n\r\n`,
    );
    client.socket.end(); // FIN: no more requests, still reading
    await eventually('the poll held', () => stack.upstream.seen.some((s) => s.url === '/half-closed/poll'));
    install(revokingSession('half-closed', sessionId));
    const text = await client.waitFor(/^HTTP\/1\.1 401[\s\S]*session_revoked/, 2_000);
    expect(text).toContain('www-authenticate: Bearer');
    await within(client.closed, 3_000, 'the connection closed');
    expect(await lineOf(stack, '/half-closed/poll')).toMatchObject({ status: 401, error: 'session_revoked' });
    await upstreamDone('/half-closed/poll');
  }, 20_000);

  it('mid-upload (the body still coming): answered 401, the upload ended upstream, the line written once', async () => {
    const { cookie, sessionId } = await signedIn(stack);
    const client = await rawRequest(
      stack.sidecar.port,
      `POST /mid/upload HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ${cookie}\r\naccept: application/json\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000000\r\n\r\n`,
      'x'.repeat(10_000),
    );
    await eventually('the upload reached the application', () =>
      stack.upstream.seen.some((s) => s.url === '/mid/upload'),
    );
    install(revokingSession('mid-upload', sessionId));
    await client.waitFor(/^HTTP\/1\.1 401/, 2_000);
    await upstreamDone('/mid/upload');
    // The client goes on trickling the rest; the sidecar does not forward it, nor answer twice.
    for (let i = 0; i < 5 && !client.isClosed(); i++) {
      client.socket.write('y'.repeat(1_000));
      await sleep(50);
    }
    expect(client.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(stack.sidecar.records().filter((l) => l.uri === '/mid/upload')).toHaveLength(1);
    expect(await lineOf(stack, '/mid/upload')).toMatchObject({
      method: 'POST',
      status: 401,
      outcome: 'denied',
      error: 'session_revoked',
    });
    client.socket.destroy();
  }, 20_000);
});

describe('a request in progress of a client that reset its connection', () => {
  const wide = inProgressStack();

  it('from a client that reset its connection just before: nothing ended twice, the other stream of the session counted', async () => {
    const { cookie, sessionId } = await signedIn(wide());
    const gone = await rawRequest(
      wide().sidecar.port,
      `GET /reset/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ${cookie}\r\naccept: text/event-stream\r\n\r\n`,
    );
    await gone.waitFor(/data: 0/, 2_000);
    const live = await openEventStream(wide().origin, cookie, '/live/events');
    gone.socket.resetAndDestroy(); // RST
    expect(await lineOf(wide(), '/reset/events')).toMatchObject({ outcome: 'client_abort', error: null });
    wide.install(revokingSession('after-reset', sessionId));
    expect((await within(live.ended, 1_000, 'the live stream cut')).how).toBe('error');
    expect(
      wide()
        .sidecar.records()
        .filter((l) => l.uri === '/reset/events'),
    ).toHaveLength(1);
    expect(await lineOf(wide(), '/live/events')).toMatchObject({
      outcome: 'denied',
      error: 'session_revoked',
    });
    const applied = wide()
      .sidecar.events('revocation_applied')
      .find((e) => e.revocation === 'after-reset');
    expect(applied).toMatchObject({ responsesClosed: 1 });
    await upstreamDone('/reset/events', '/live/events');
  }, 20_000);
});

describe('a WebSocket handshake the application is answering when its session ends', () => {
  const slow = inProgressStack();
  const upgrades: Socket[] = [];
  beforeAll(() => {
    // The application takes half a second to answer a handshake.
    slow().upstream.server.on('upgrade', (_req, socket: Socket) => {
      upgrades.push(socket);
      socket.on('error', () => undefined);
      socket.resume(); // reads on, so the sidecar's close is seen
      setTimeout(() => {
        if (!socket.destroyed)
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n',
          );
      }, 500);
    });
  });
  afterAll(() => {
    for (const socket of upgrades) socket.destroy();
  });

  it('is refused 401 when the answer comes: no tunnel opens for the ended session', async () => {
    const { cookie, sessionId } = await signedIn(slow());
    const client = await rawRequest(
      slow().sidecar.port,
      `GET /handshake/live HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ${cookie}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    await eventually('the handshake at the application', () => upgrades.length === 1);
    slow.install(revokingSession('mid-handshake', sessionId));
    const text = await client.waitFor(/^HTTP\/1\.1 \d+/, 2_000);
    expect(text).toMatch(/^HTTP\/1\.1 401/);
    expect(text).not.toContain('101');
    await within(client.closed, 2_000, 'the client connection closed');
    // The sidecar closed its connection to the application (which sees its end).
    await eventually('the application\u2019s side ended', () => upgrades[0]?.readableEnded === true, 2_000);
    expect(await lineOf(slow(), '/handshake/live')).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'session_revoked',
    });
  }, 20_000);
});

describe('a stream open when the sidecar shuts down', () => {
  it('is cut within the grace and written once; the timer of its session\u2019s end holds nothing up', async () => {
    const own = await startSignInStack({ application: inProgressApplication });
    try {
      const { cookie } = await signedIn(own);
      const stream = await openEventStream(own.origin, cookie, '/at-shutdown/events');
      const started = performance.now();
      await own.sidecar.sidecar.shutdown(1_000);
      expect(performance.now() - started).toBeLessThan(1_500);
      expect((await within(stream.ended, 1_000, 'the stream ended')).how).toBe('error');
      const lines = own.sidecar.records().filter((l) => l.uri === '/at-shutdown/events');
      expect(lines).toHaveLength(1);
      expect(own.sidecar.events('response_closed')).toEqual([]);
      expect(closedUpstream.has('/at-shutdown/events')).toBe(true);
    } finally {
      await own.close();
    }
  }, 20_000);
});
