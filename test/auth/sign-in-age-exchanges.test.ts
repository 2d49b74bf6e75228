import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { type RawClient, sleep, statusesOf } from '../helpers/hostile.ts';
import { headerOf, type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { adminAreaAsksRecentSignIn } from '../helpers/recent-sign-in-policies.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A request is judged when it arrives; a WebSocket, a stream of events or a long poll makes no
// further request. An admin area that asks for a sign-in within a minute kept a terminal opened
// there for as long as the tab lived. The built sidecar, as shipped, now judges what such a
// request opened again when the user's authentication ages past a window of the policies, and
// ends what they no longer admit; the rest goes on. Raw sockets, a provider whose auth_time the
// test sets, an application that holds everything open.

const now = () => Math.floor(Date.now() / 1000);
const WINDOW_S = 60;
/** When an authentication at `authTime` stops passing the window (its 30 s tolerance included). */
const windowEndsAt = (authTime: number) => (authTime + WINDOW_S + 31) * 1000;

const UPGRADE =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
const PAGE = 'Accept: text/html\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n';

let upstream: TestUpstream;
/** Paths whose exchange the application saw end (its socket or response closed). */
const endedAtApplication: string[] = [];
/** How long the application takes to answer the handshake of `/admin/slow-terminal`. */
let slowHandshakeMs = 0;
let provider: ForgedProvider;
let gateway: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const path = req.url ?? '';
    res.on('close', () => endedAtApplication.push(path));
    if (path.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    } else if (path === '/admin/flood') {
      // A stream faster than its reader: the client reads nothing and the kernel buffers fill.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = `data: ${'x'.repeat(64 * 1024)}\n\n`;
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    }
    // Anything else is a long poll: never answered.
  });
  upstream.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    socket.once('close', () => endedAtApplication.push(req.url ?? ''));
    const answer = (): void => {
      if (socket.destroyed) return;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket); // echo
    };
    if (req.url === '/admin/slow-terminal') setTimeout(answer, slowHandshakeMs);
    else answer();
  });
  provider = await startForgedProvider('gatehouse');
  gateway = await startSignInSidecar(provider.issuer, upstream.url, [], {}, adminAreaAsksRecentSignIn('1m'));
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Opens `path` from `from` with the session `cookie` on a keep-alive connection. */
const open = (path: string, from: string, cookie: string, extra = '') =>
  gateway.signIns.send(path, from, cookie, `${extra}Connection: keep-alive\r\n`);
/** Opens a WebSocket on `path`; resolves once the 101 came. */
async function tunnel(path: string, from: string, cookie: string): Promise<RawClient> {
  const client = await gateway.signIns.send(path, from, cookie, UPGRADE);
  await client.waitFor(/^HTTP\/1\.1 101 /);
  return client;
}
const lineOf = (uri: string, from: string) =>
  gateway.process.waitForLine((l) => l.type === 'request' && l.uri === uri && l.clientIp === from);
const eventsOf = (type: string, from: string) =>
  gateway.process.lines.filter(
    (e) =>
      e.type === type &&
      gateway.process.lines.some(
        (l) => l.type === 'request' && l.requestId === e.requestId && l.clientIp === from,
      ),
  );

const FRESH_DECISION = {
  action: 'deny',
  policy: 'admins-recently',
  rule: null,
  reason: 'fresh_sign_in_required',
};

describe('what a request opened, as the authentication ages past the window of its policies', () => {
  it('the admin WebSocket, stream and long polls end when the authentication passes the minute; what other policies admit goes on', async () => {
    const from = '127.0.0.61';
    provider.claims = {};
    // Signed in 84 s ago: a minute and the 30 s tolerance pass 7 s from now.
    provider.authTime = now() - 84;
    const endsAt = windowEndsAt(provider.authTime);
    const cookie = await gateway.signIns.complete(from);

    const adminTunnel = await tunnel('/admin/terminal', from, cookie);
    const docsTunnel = await tunnel('/docs/live', from, cookie);
    // A tunnel whose client resets it before the window passes: nothing is left to end.
    const leaving = await tunnel('/admin/leaving', from, cookie);
    const adminEvents = await open('/admin/events', from, cookie);
    await adminEvents.waitFor(/data: 1/);
    const docsEvents = await open('/docs/events', from, cookie);
    await docsEvents.waitFor(/data: 1/);
    const apiPoll = await open('/admin/api/poll', from, cookie);
    const pagePoll = await open('/admin/report', from, cookie, PAGE);
    // A client that half-closes after its request (FIN): the request goes on, and is answered.
    const halfClosed = await open('/admin/api/half-closed', from, cookie);
    halfClosed.socket.end();
    // A client that reads nothing of a stream that fills every buffer on the way.
    const stalled = await open('/admin/flood', from, cookie);
    stalled.socket.pause();
    leaving.socket.resetAndDestroy();
    expect(Date.now()).toBeLessThan(endsAt - 1_000);

    await adminTunnel.closed;
    const closedAt = Date.now();
    expect(closedAt).toBeGreaterThanOrEqual(endsAt);
    expect(closedAt).toBeLessThan(endsAt + 1_500);
    // The stream already answered is cut; the polls not answered yet get what a request gets now.
    await adminEvents.closed;
    const api = await apiPoll.waitFor(/"error":"fresh_sign_in_required"/, 1_500);
    expect(statusesOf(api)).toEqual([401]);
    expect(headerOf(api, 'www-authenticate')).toBe(
      'Bearer realm="gatehouse", error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age="60"',
    );
    const half = await halfClosed.waitFor(/"error":"fresh_sign_in_required"/, 1_500);
    expect(statusesOf(half)).toEqual([401]);
    await halfClosed.closed;
    const page = await pagePoll.waitFor(/^HTTP\/1\.1 302 [\s\S]*\r\n\r\n/, 1_500);
    expect(statusesOf(page)).toEqual([302]);
    expect(headerOf(page, 'location')).toBe(
      `http://${gateway.host}/.gatehouse/login?rd=%2Fadmin%2Freport&fresh=1`,
    );

    // What the other policy admits stands: the docs tunnel still echoes, its stream is open.
    await sleep(300);
    expect(docsTunnel.isClosed()).toBe(false);
    expect(docsEvents.isClosed()).toBe(false);
    docsTunnel.socket.write('still here');
    await docsTunnel.waitFor(/still here/);

    // The application's side of each ended exchange was let go too.
    await expect
      .poll(() => [...endedAtApplication].sort())
      .toEqual(
        expect.arrayContaining([
          '/admin/api/poll',
          '/admin/api/half-closed',
          '/admin/events',
          '/admin/flood',
          '/admin/leaving',
          '/admin/report',
          '/admin/terminal',
        ]),
      );
    // The client that read nothing finds its connection reset when it reads again.
    stalled.socket.resume();
    await stalled.closed;
    expect(stalled.reset()).toBe(true);
    expect(endedAtApplication).not.toContain('/docs/live');
    expect(endedAtApplication).not.toContain('/docs/events');

    // The lines: each end says why, and the decision a request gets now.
    const tunnelLine = await lineOf('/admin/terminal', from);
    expect(tunnelLine).toMatchObject({ status: 101, outcome: 'upgraded', error: 'fresh_sign_in_required' });
    expect(await lineOf('/admin/events', from)).toMatchObject({
      status: 200,
      outcome: 'denied',
      error: 'fresh_sign_in_required',
    });
    expect(await lineOf('/admin/api/poll', from)).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'fresh_sign_in_required',
    });
    expect(await lineOf('/admin/report', from)).toMatchObject({
      status: 302,
      error: 'fresh_sign_in_required',
    });
    const websocketsClosed = eventsOf('websocket_closed', from);
    expect(websocketsClosed).toEqual([
      expect.objectContaining({
        requestId: tunnelLine.requestId,
        reason: 'fresh_sign_in_required',
        decision: FRESH_DECISION,
        sessionId: expect.any(String),
      }),
    ]);
    const responsesClosed = eventsOf('response_closed', from);
    expect(responsesClosed).toHaveLength(5);
    for (const event of responsesClosed)
      expect(event).toMatchObject({ reason: 'fresh_sign_in_required', decision: FRESH_DECISION });
    docsTunnel.socket.destroy();
    docsEvents.socket.destroy();
  });

  it('a handshake the application answers after the window passed is refused with the step-up challenge, not opened', async () => {
    const from = '127.0.0.62';
    slowHandshakeMs = 4_000;
    // The window passes 2 s from now; the application answers the handshake in 4.
    provider.authTime = now() - 89;
    const endsAt = windowEndsAt(provider.authTime);
    const cookie = await gateway.signIns.complete(from);
    const client = await gateway.signIns.send('/admin/slow-terminal', from, cookie, UPGRADE);
    expect(Date.now()).toBeLessThan(endsAt);
    await client.closed;
    const answer = client.received();
    expect(statusesOf(answer)).toEqual([401]);
    expect(answer).toContain('error="insufficient_user_authentication"');
    expect(await lineOf('/admin/slow-terminal', from)).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'fresh_sign_in_required',
    });
    await expect.poll(() => endedAtApplication).toContain('/admin/slow-terminal');
  });
});
