import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// A request is checked against its session's times when it arrives, but a WebSocket makes no
// further request: a tab kept its terminal or live dashboard open for as long as the connection
// lasted, days past the session's absolute lifetime. The sidecar now ends the tunnel then.

let stack: SignInStack;
let wss: WebSocketServer;
beforeAll(async () => {
  stack = await startSignInStack({ authentication: { session: { absoluteLifetime: '3s' } } });
  wss = new WebSocketServer({ server: stack.upstream.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
});
afterAll(async () => {
  wss?.close();
  await stack?.close();
});

describe('a WebSocket a session opened', () => {
  it('is closed when the session reaches its absolute lifetime, with its event and line', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/start`, 'alice');
    const cookie = [...browser.cookies(stack.origin)].map(([n, v]) => `${n}=${v}`).join('; ');
    const opened = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${stack.sidecar.port}/live`, { headers: { cookie } });
    await once(ws, 'open');
    ws.send('ping');
    const [reply] = (await once(ws, 'message')) as [Buffer];
    expect(String(reply)).toBe('echo:ping');
    await once(ws, 'close');
    // The session began before the socket opened; it ends 3 s after the sign-in.
    expect(Date.now() - opened).toBeLessThan(3_500);
    const closed = stack.sidecar.events('websocket_closed').at(-1);
    expect(closed).toMatchObject({ reason: 'credential_expired', sessionId: expect.any(String) });
    await expect
      .poll(() => stack.sidecar.records().find((l) => l.uri === '/live'))
      .toMatchObject({ status: 101, outcome: 'upgraded', error: 'credential_expired' });
  });
});
