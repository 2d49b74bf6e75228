import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import { eventually, openRaw, sleep, statusesOf, upgradeRequest } from '../helpers/hostile.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import {
  anonymousRssBytes,
  applicationYaml,
  policyYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The application in the pod verifies the identity JWT with the keys the sidecar publishes. From
// inside the pod it reaches the sidecar on the loopback address, with a Host that is not the
// application's: the sidecar answered 421, and the application needed a way out of the cluster and
// back through the ingress (the external URL) to learn the keys.

const BOT = newServiceToken();
const HOST = 'wiki.example.com';

let upstream: TestUpstream;
let sidecar: SidecarProcess;
const reached: string[] = [];
let keysUrl = '';

beforeAll(async () => {
  // The application verifies each request's JWT with keys fetched from the sidecar on loopback,
  // as an application in the pod does (the demo's and the examples' way, with jose here).
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  upstream = await startUpstream(async (req, res) => {
    reached.push(req.url ?? '');
    keys ??= createRemoteJWKSet(new URL(keysUrl));
    try {
      const { payload } = await jwtVerify(String(req.headers['x-gatehouse-jwt-assertion']), keys, {
        algorithms: ['ES256', 'RS256'],
      });
      res.end(`verified ${payload.sub}`);
    } catch (error) {
      res.statusCode = 500;
      res.end(`not verified: ${(error as Error).message}`);
    }
  });
  sidecar = await startSidecarProcess(writeConfigDir(botsYaml()), ['--client-header-timeout', '2s']);
  keysUrl = `http://127.0.0.1:${sidecar.port}/.gatehouse/jwks.json`;
});
/** The application: the bot's service token is its one credential, so it signs identity JWTs. */
function botsYaml(): string {
  return `${applicationYaml({
    hosts: [HOST],
    upstream: { url: upstream.url },
    authentication: { serviceTokens: { tokens: [{ id: 'report-bot', secretHash: BOT.secretHash }] } },
    policies: [{ name: 'bots' }],
  })}---\n${policyYaml('bots', { decision: 'service-auth', include: [{ serviceTokens: ['report-bot'] }] })}`;
}

afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
});

/** One request on a new connection, closed after its answer. */
const ask = (head: string) =>
  rawRequest(sidecar.port, `${head}${head.includes('Connection:') ? '' : '\r\nConnection: close'}\r\n\r\n`);

const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);

const keyLines = () =>
  sidecar.lines.filter((l) => l.type === 'request' && String(l.uri).startsWith('/.gatehouse/jwks.json'));

describe('the identity JWT keys for the application in the pod', () => {
  it('an application that fetches them from the sidecar on loopback verifies the JWT of a request', async () => {
    const answer = await ask(
      `GET /api/report HTTP/1.1\r\nHost: ${HOST}\r\nCF-Access-Client-Id: report-bot\r\nCF-Access-Client-Secret: ${BOT.secret}`,
    );
    expect(bodyOf(answer)).toBe('verified service-token:report-bot');
    expect(statusOf(answer)).toBe(200);
    // The application's fetch of the keys: logged with the Host it sent, answered by the sidecar.
    await eventually('the fetch of the keys logged', () => keyLines().length >= 1);
    expect(keyLines()[0]).toMatchObject({
      status: 200,
      host: `127.0.0.1:${sidecar.port}`,
      uri: '/.gatehouse/jwks.json',
      error: null,
    });
    expect(reached).toEqual(['/api/report']);
  });

  it('answers GET and HEAD whatever the Host, the same keys as on the application host; nothing reaches the application', async () => {
    const own = await ask(`GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: ${HOST}`);
    expect(statusOf(own)).toBe(200);
    const published = JSON.parse(bodyOf(own)) as { keys: { kid: string; x?: string; n?: string }[] };
    expect(published.keys.length).toBeGreaterThan(0);
    for (const key of published.keys) expect(Object.keys(key)).not.toContain('d');
    for (const head of [
      `GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: localhost:${sidecar.port}`,
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.12:4180', // the pod's address
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: [fd00::7]:4180',
      'GET /.gatehouse/jwks.json HTTP/1.0', // no Host at all
      'GET /.gatehouse/jwks.json?v=2 HTTP/1.1\r\nHost: 10.4.7.12',
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: not a host',
    ]) {
      const answer = await ask(head);
      expect([head, statusOf(answer)]).toEqual([head, 200]);
      expect(JSON.parse(bodyOf(answer)), head).toEqual(published);
      expect(answer).toMatch(/\r\ncontent-type: application\/json\r\n/i);
      expect(answer).toMatch(/\r\ncache-control: public, max-age=300\r\n/i);
    }
    const head = await ask('HEAD /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.12');
    expect(statusOf(head)).toBe(200);
    expect(bodyOf(head)).toBe('');
    expect(reached).not.toContain('/.gatehouse/jwks.json');
    await eventually('a line for each', () => keyLines().filter((l) => l.host === '10.4.7.12').length === 2);
    expect(keyLines().find((l) => l.host === '10.4.7.12' && l.method === 'HEAD')).toMatchObject({
      status: 200,
      uri: '/.gatehouse/jwks.json',
    });
  });

  it('is that path only, for GET and HEAD only, and never a WebSocket: the rest of a Host not the application’s is 421 as before', async () => {
    for (const [head, status] of [
      ['POST /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.12\r\nContent-Length: 0', 421],
      ['GET /.gatehouse/jwks.json/ HTTP/1.1\r\nHost: 10.4.7.12', 421],
      ['GET /.gatehouse/jwks.jsonx HTTP/1.1\r\nHost: 10.4.7.12', 421],
      ['GET /.gatehouse/%6Awks.json HTTP/1.1\r\nHost: 10.4.7.12', 421],
      ['GET /.gatehouse/userinfo HTTP/1.1\r\nHost: 10.4.7.12', 421],
      ['GET /api/report HTTP/1.1\r\nHost: 10.4.7.12', 421],
      // The application's own host, as before: its gateway routes.
      [`POST /.gatehouse/jwks.json HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0`, 404],
      [`GET /.gatehouse/%6Awks.json HTTP/1.1\r\nHost: ${HOST}`, 200],
    ] as const)
      expect([head, statusOf(await ask(head))]).toEqual([head, status]);
    expect(
      statusOf(await rawRequest(sidecar.port, upgradeRequest('/.gatehouse/jwks.json', '10.4.7.12'))),
    ).toBe(421);
    expect(statusOf(await rawRequest(sidecar.port, upgradeRequest('/.gatehouse/jwks.json', HOST)))).toBe(400);
    expect(reached).not.toContain('/.gatehouse/jwks.json');
  });
});

describe('hostile clients of the keys', () => {
  it('a request trickled a byte at a time is answered; one reset halfway, or half-closed before its end, leaves nothing behind', async () => {
    const request = 'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.13\r\n\r\n';
    const trickled = await openRaw(sidecar.port, '127.9.4.1');
    for (const byte of request) {
      trickled.socket.write(byte);
      await sleep(5);
    }
    await trickled.waitFor(/\r\n\r\n\{"keys":\[.*\]\}$/s);
    expect(statusOf(trickled.received())).toBe(200);
    trickled.socket.destroy();

    const reset = await openRaw(sidecar.port, '127.9.4.2');
    reset.socket.write(request.slice(0, 30));
    await sleep(50);
    reset.socket.resetAndDestroy();
    const halfClosed = await openRaw(sidecar.port, '127.9.4.3', true);
    halfClosed.socket.end(request.slice(0, 40));
    await halfClosed.closed;
    // The two cut requests reached no route; the sidecar serves the next one.
    expect(statusOf(await ask('GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.13'))).toBe(200);
    await eventually(
      'two answered fetches from 10.4.7.13',
      () => keyLines().filter((l) => l.host === '10.4.7.13' && l.status === 200).length === 2,
    );
  });

  it('a head that goes silent is cut at the header timeout; a fetch whose declared body never comes, or trickles, is answered at once', async () => {
    const silent = await openRaw(sidecar.port, '127.9.4.6');
    silent.socket.write('GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.17\r\n');
    await silent.waitFor(/^HTTP\/1\.1 408 /, 4_000);
    await silent.closed;
    const [quiet, trickling] = await Promise.all(
      ['127.9.4.7', '127.9.4.8'].map(async (from) => {
        const c = await openRaw(sidecar.port, from, true);
        c.socket.write(
          'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.18\r\nContent-Length: 100000\r\n\r\nx',
        );
        return c;
      }),
    );
    const drip = setInterval(() => trickling?.socket.writable && trickling.socket.write('x'), 50);
    try {
      for (const c of [quiet, trickling]) await c?.waitFor(/^HTTP\/1\.1 200 [\s\S]*\{"keys":\[/, 2_000);
      expect(statusOf(await ask('GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.19'))).toBe(200);
    } finally {
      clearInterval(drip);
      quiet?.socket.destroy();
      trickling?.socket.destroy();
    }
  });

  it('at shutdown: fetches are answered through the delay, and one whose body never comes holds no part of the exit', async () => {
    const own = await startSidecarProcess(writeConfigDir(botsYaml()), [
      '--shutdown-delay',
      '1s',
      '--shutdown-grace',
      '6s',
    ]);
    const held = await openRaw(own.port, '127.9.4.9', true);
    held.socket.write(
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.20\r\nContent-Length: 100000\r\n\r\n',
    );
    await held.waitFor(/^HTTP\/1\.1 200 /);
    const signalled = performance.now();
    const exited = own.stop();
    await sleep(200);
    const during = await rawRequest(
      own.port,
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.21\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(during)).toBe(200);
    expect(await exited).toBe(0);
    // Out once the delay (1 s) is over: the drain does not wait for that body (the grace is 6 s).
    expect(performance.now() - signalled).toBeLessThan(1_000 + 2_000);
    await held.closed;
  });

  it('fetches pipelined without reading: 32 are answered in order once read; 2,000 at once close the connection, and everyone else is served', async () => {
    const one = (host: string) => `GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const patient = await openRaw(sidecar.port, '127.9.4.4');
    patient.socket.pause();
    patient.socket.write(one('10.4.7.14').repeat(32));
    await sleep(300);
    patient.socket.resume();
    await eventually('32 answers', () => statusesOf(patient.received()).length === 32);
    expect(statusesOf(patient.received()).every((s) => s === 200)).toBe(true);
    patient.socket.destroy();

    const pid = sidecar.child.pid as number;
    const before = anonymousRssBytes(pid);
    const greedy = await openRaw(sidecar.port, '127.9.4.5', true);
    greedy.socket.pause();
    greedy.socket.write(one('10.4.7.15').repeat(2_000));
    const started = performance.now();
    expect(statusOf(await ask('GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.16'))).toBe(200);
    expect(performance.now() - started).toBeLessThan(500);
    await eventually('the greedy connection closed', () => greedy.isClosed());
    const over = await sidecar.waitForLine(
      (l) => l.type === 'request' && l.error === 'pipelining_limit' && l.peerIp === '127.9.4.5',
    );
    expect([over.status, over.outcome]).toEqual([400, 'rejected']);
    // No more than the 32 ahead of it were handled.
    expect(keyLines().filter((l) => l.host === '10.4.7.15').length).toBeLessThanOrEqual(32);
    expect(anonymousRssBytes(pid) - before).toBeLessThan(32 * 1024 * 1024);
  }, 30_000);
});
