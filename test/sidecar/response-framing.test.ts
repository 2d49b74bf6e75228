import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EARLY_HINTS } from '../../sidecar/src/http/early-hints.ts';
import { type BrokenUpstream, PIECE_INTERVAL_MS, startBrokenUpstream } from '../helpers/broken-upstream.ts';
import { openRaw, sleep } from '../helpers/hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';

// How the sidecar frames what the application answers, against the built sidecar and a raw
// application. Its `103 Early Hints` (the stylesheets and scripts a browser may fetch while the
// page is made: Rails' send_early_hints, for one) were dropped, as undici read them and the proxy
// stage ignored every 1xx: their Link headers now reach HTTP/1.1 clients, at most four per
// request however many the application sends. A `204` kept the Content-Length the application
// gave it, which a 204 must not have.

const LINKS = '</style.css>; rel=preload; as=style';
const SCRIPT = '</app.js>; rel=preload; as=script';
const hint = (headers: string) => `HTTP/1.1 103 Early Hints\r\n${headers}\r\n`;
const FINAL = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage';

let upstream: BrokenUpstream;
let sidecar: SidecarProcess;

beforeAll(async () => {
  upstream = await startBrokenUpstream({
    '/hinted': `${hint(`Link: ${LINKS}\r\nLink: ${SCRIPT}\r\n`)}${FINAL}`,
    '/many-hints': `${hint(`Link: ${LINKS}\r\n`).repeat(200)}${FINAL}`,
    '/hint-without-link': `${hint('X-Other: 1\r\n')}${FINAL}`,
    '/hint-bad-link': `${hint('Link: not a link\r\n')}${FINAL}`,
    '/hint-then-wait': [hint(`Link: ${LINKS}\r\n`), FINAL],
    '/no-content': 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-Kept: 1\r\n\r\n',
    '/not-modified': 'HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: "v1"\r\n\r\n',
  });
  sidecar = await startSidecarProcess(loopbackAppDir(upstream.url));
});
afterAll(async () => {
  await sidecar.stop();
  await upstream.close();
});

/** Everything a raw client receives for one request, up to and with the final response's body. */
async function exchange(path: string, version = '1.1'): Promise<string> {
  const client = await openRaw(sidecar.port);
  client.socket.write(`GET ${path} HTTP/${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await client.closed;
  return client.received();
}

const hintsIn = (text: string) => text.match(/^HTTP\/1\.1 103 Early Hints\r\n/gm) ?? [];

describe('103 Early Hints from the application', () => {
  it('reach an HTTP/1.1 client before the response, with every Link', async () => {
    const text = await exchange('/hinted');
    expect(text).toMatch(
      /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style, <\/app\.js>; rel=preload; as=script\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
    );
    expect(text.endsWith('page')).toBe(true);
    expect(await sidecar.waitForLine((l) => l.uri === '/hinted')).toMatchObject({
      status: 200,
      outcome: 'served',
    });
  });

  it(`at most ${MAX_EARLY_HINTS} of an application that sends 200, then the response`, async () => {
    const text = await exchange('/many-hints');
    expect(hintsIn(text)).toHaveLength(MAX_EARLY_HINTS);
    expect(text).toMatch(/HTTP\/1\.1 200 OK\r\n[\s\S]*page$/);
  });

  it('none to an HTTP/1.0 client, none without a Link, none whose Link Node.js refuses', async () => {
    for (const [path, version] of [
      ['/hinted', '1.0'],
      ['/hint-without-link', '1.1'],
      ['/hint-bad-link', '1.1'],
    ] as const) {
      const text = await exchange(path, version);
      expect(hintsIn(text), path).toEqual([]);
      expect(text, path).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*page$/);
    }
  });
});

describe('a client after its early hint', () => {
  it('that resets: the request ends 499 with its one line, the next is served', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.write('GET /hint-then-wait?reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/^HTTP\/1\.1 103 Early Hints\r\n/);
    client.socket.resetAndDestroy();
    expect(await sidecar.waitForLine((l) => l.uri === '/hint-then-wait?reset')).toMatchObject({
      status: 499,
      outcome: 'client_abort',
    });
    await sleep(PIECE_INTERVAL_MS + 200); // past the moment the application would have answered
    expect(sidecar.lines.filter((l) => l.uri === '/hint-then-wait?reset')).toHaveLength(1);
    expect(await exchange('/hinted')).toMatch(/page$/);
  });

  it('that half-closes (FIN after its request): still gets the response after the hint', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.end('GET /hint-then-wait?fin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.closed;
    expect(client.received()).toMatch(
      /^HTTP\/1\.1 103 Early Hints\r\n[\s\S]*\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*page$/,
    );
  });

  it('that reads nothing: the hint and the response wait in the kernel, and the client gets both once it reads', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.pause();
    client.socket.write(
      'GET /hint-then-wait?silent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(await sidecar.waitForLine((l) => l.uri === '/hint-then-wait?silent')).toMatchObject({
      status: 200,
    });
    client.socket.resume();
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 103 Early Hints\r\n[\s\S]*page$/);
  });
});

describe('responses without a body', () => {
  it('a 204 loses the Content-Length it must not have; a 304 keeps the length of what it stands for', async () => {
    const noContent = await exchange('/no-content');
    expect(noContent).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
    expect(noContent).toMatch(/\r\nx-kept: 1\r\n/i);
    expect(noContent).not.toMatch(/content-length/i);
    const notModified = await exchange('/not-modified');
    expect(notModified).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    expect(notModified).toMatch(/\r\ncontent-length: 1234\r\n/i);
  });
});
