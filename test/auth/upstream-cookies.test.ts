import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { eventually, openRaw } from '../helpers/hostile.ts';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// The application behind the sidecar cannot set the gateway's cookies: one that reflects a
// cookie from its request (a preferences endpoint, a header injection) would otherwise let
// anyone with a link put their own session into another user's browser (session fixation).

const whoAmI = (body: string) =>
  (JSON.parse(body) as { headers: Record<string, string> }).headers['x-gatehouse-email'];

let streamsClosed = 0;

describe('Set-Cookie from the application', () => {
  let stack: SignInStack;
  let wss: WebSocketServer;
  beforeAll(async () => {
    stack = await startSignInStack({
      application: (req, res) => {
        const url = new URL(req.url ?? '/', 'http://app');
        if (url.pathname === '/stream') {
          // A download that goes on until its client leaves, with cookies of both kinds.
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'set-cookie': ['_gatehouse=forged; Path=/', 'theme=dark'],
          });
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          const pump = (): void => {
            while (!res.destroyed && res.write(chunk));
          };
          res.on('drain', pump);
          res.on('close', () => streamsClosed++);
          pump();
          return;
        }
        // Every `set` parameter comes back as a Set-Cookie line, as the application was asked.
        const cookies = url.searchParams.getAll('set');
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}),
        });
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
      },
    });
    // The application's WebSocket handshake sets cookies too.
    wss = new WebSocketServer({ server: stack.upstream.server });
    wss.on('headers', (headers) => headers.push('Set-Cookie: _gatehouse=forged; Path=/', 'Set-Cookie: ws=1'));
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  });
  afterAll(async () => {
    wss?.close();
    await stack?.close();
  });

  async function dropped(): Promise<number | undefined> {
    const text = await stack.sidecar.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith('gatehouse_upstream_cookies_dropped_total{app='));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }

  const setting = (...cookies: string[]) =>
    `${stack.origin}/prefs?${cookies.map((c) => `set=${encodeURIComponent(c)}`).join('&')}`;

  it('drops a Set-Cookie naming a gateway cookie, in any spelling, and relays the application\u2019s own', async () => {
    const alice = new HttpBrowser();
    await signInWithDevProvider(alice, `${stack.origin}/start`, 'alice');
    const spellings = [
      '_gatehouse=forged; Path=/',
      '_GateHouse=forged; Path=/',
      '__Host-_gatehouse=forged; Path=/; Secure',
      '__Secure-_gatehouse=forged; Path=/; Secure',
      '_gatehouse.1=forged; Path=/',
      '_gatehouse_tx_3=forged; Path=/.gatehouse/',
      // A cookie without a name: browsers send its value alone, `_gatehouse=forged`.
      '=_gatehouse=forged; Path=/',
      '  _gatehouse =forged',
    ];
    const page = await alice.fetch(setting('theme=dark; Path=/', ...spellings, 'lang=en'));
    expect(page.status).toBe(200);
    expect([page.headers['set-cookie']].flat()).toEqual(['theme=dark; Path=/', 'lang=en']);
    expect(whoAmI((await alice.fetch(`${stack.origin}/after`)).body)).toBe('alice@example.com');
    expect(await dropped()).toBe(spellings.length);
  });

  it('cannot put one user\u2019s session into another user\u2019s browser', async () => {
    const bob = new HttpBrowser();
    await signInWithDevProvider(bob, `${stack.origin}/start`, 'bob');
    const bobSession = [...bob.cookies(stack.origin)].find(([name]) => name === '_gatehouse');
    expect(bobSession).toBeDefined();
    const alice = new HttpBrowser();
    await signInWithDevProvider(alice, `${stack.origin}/start`, 'alice');
    // Alice follows Bob's link to the application's endpoint.
    await alice.fetch(setting(`_gatehouse=${bobSession?.[1]}; Path=/`));
    expect(alice.cookies(stack.origin).get('_gatehouse')).not.toBe(bobSession?.[1]);
    expect(whoAmI((await alice.fetch(`${stack.origin}/upload`)).body)).toBe('alice@example.com');
  });

  it('relays every Set-Cookie of an application whose cookies are named otherwise, unchanged', async () => {
    const alice = new HttpBrowser();
    await signInWithDevProvider(alice, `${stack.origin}/start`, 'alice');
    const page = await alice.fetch(setting('session=abc; Path=/; HttpOnly', 'gatehouse_pref=1'));
    expect([page.headers['set-cookie']].flat()).toEqual([
      'session=abc; Path=/; HttpOnly',
      'gatehouse_pref=1',
    ]);
  });

  it('drops them from the answer to a WebSocket handshake too; the tunnel works', async () => {
    const alice = new HttpBrowser();
    await signInWithDevProvider(alice, `${stack.origin}/start`, 'alice');
    const before = (await dropped()) ?? 0;
    const ws = new WebSocket(`ws://127.0.0.1:${stack.sidecar.port}/live`, {
      headers: { cookie: alice.cookieHeader(`${stack.origin}/live`) },
    });
    const opened = once(ws, 'open');
    const [answer] = (await once(ws, 'upgrade')) as [IncomingMessage];
    await opened;
    expect(answer.headers['set-cookie']).toEqual(['ws=1']);
    ws.send('ping');
    const [reply] = (await once(ws, 'message')) as [Buffer];
    expect(String(reply)).toBe('echo:ping');
    ws.close();
    expect(await dropped()).toBe(before + 1);
  });

  it.each([
    ['resets (RST) mid-body', 'rst'],
    ['half-closes (FIN) after its request, then leaves mid-body', 'fin'],
  ])(
    'a client that %s: the head came without the forged cookie, one line, the download ended',
    async (_what, how) => {
      const alice = new HttpBrowser();
      await signInWithDevProvider(alice, `${stack.origin}/start`, 'alice');
      const before = (await dropped()) ?? 0;
      const closedBefore = streamsClosed;
      const linesBefore = stack.sidecar.records().length;
      const client = await openRaw(stack.sidecar.port);
      client.socket.write(
        `GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/octet-stream\r\nCookie: ${alice.cookieHeader(`${stack.origin}/stream`)}\r\n\r\n`,
      );
      if (how === 'fin') client.socket.end();
      const head = (await client.waitFor(/\r\n\r\n/)).split('\r\n\r\n')[0] as string;
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head).toMatch(/\r\nset-cookie: theme=dark/i);
      expect(head).not.toMatch(/_gatehouse=forged/);
      await client.until(() => client.received().length > 256 * 1024, 5_000);
      if (how === 'rst') client.socket.resetAndDestroy();
      else client.socket.destroy();
      await eventually('the download ended at the application', () => streamsClosed > closedBefore, 5_000);
      const lines = await stack.sidecar.waitForRecords(linesBefore + 1);
      expect(lines.slice(linesBefore)).toEqual([
        expect.objectContaining({ uri: '/stream', status: 200, outcome: 'client_abort' }),
      ]);
      expect(await dropped()).toBe(before + 1);
    },
  );
});
