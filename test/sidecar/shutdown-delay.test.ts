import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusOnNewConnection } from '../helpers/hostile.ts';
import { loopbackAppDir, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A pod's end reaches its Service's proxies and an ingress later than its containers' SIGTERM.
// A sidecar that stopped accepting at SIGTERM refused the connections they still sent it
// meanwhile; now it answers /readyz 503 at once and goes on accepting for --shutdown-delay.

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('app page'));
});
afterAll(async () => upstream?.close());

/** A new connection's GET: the status, or the connection's error code. */
const freshGet = (port: number, path: string): Promise<number | string> =>
  statusOnNewConnection(
    () => connect({ port, host: '127.0.0.1' }),
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );

const config = () => loopbackAppDir(upstream.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('--shutdown-delay', () => {
  it('after SIGTERM: /readyz 503 at once, new connections served through the delay, refused after it; exit within the grace', async () => {
    const proc = await startSidecarProcess(config(), ['--shutdown-delay', '2s', '--shutdown-grace', '6s']);
    expect(await freshGet(proc.port, '/before')).toBe(200);
    const signalled = performance.now();
    const exited = proc.stop(); // SIGTERM
    await sleep(100);
    const ready = await request(`http://127.0.0.1:${proc.adminPort}/readyz`);
    await ready.body.dump();
    expect(ready.statusCode).toBe(503);
    const during = [];
    for (const at of [300, 1_000, 1_700]) {
      await sleep(Math.max(0, at - (performance.now() - signalled)));
      during.push(await freshGet(proc.port, `/during-${at}`));
    }
    expect(during).toEqual([200, 200, 200]);
    await sleep(Math.max(0, 2_500 - (performance.now() - signalled)));
    expect(await freshGet(proc.port, '/after')).toBe('ECONNREFUSED');
    expect(await exited).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(6_000 + 1_000);
    expect(proc.lines.find((l) => l.type === 'sidecar_stopping')).toMatchObject({
      signal: 'SIGTERM',
      graceMs: 6_000,
      delayMs: 2_000,
    });
    const served = proc.lines.filter((l) => l.type === 'request').map((l) => [l.uri, l.status]);
    expect(served).toEqual([
      ['/before', 200],
      ['/during-300', 200],
      ['/during-1000', 200],
      ['/during-1700', 200],
    ]);
  });

  it('through the delay, the refusals and the answers of its own stand as before: a TRACE 405, HAProxy\u2019s OPTIONS check 503, an untrusted proxy told once', async () => {
    const seen: string[] = [];
    const app = await startUpstream((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('app page');
    });
    try {
      const proc = await startSidecarProcess(loopbackAppDir(app.url), ['--shutdown-delay', '2s']);
      const fresh = (head: string) =>
        statusOnNewConnection(() => connect({ port: proc.port, host: '127.0.0.1' }), `${head}\r\n\r\n`);
      const exited = proc.stop(); // SIGTERM
      await sleep(200);
      expect(await fresh('TRACE /page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close')).toBe(405);
      expect(await fresh('OPTIONS /.gatehouse/ready HTTP/1.0')).toBe(503);
      const viaProxy =
        'GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close';
      expect([await fresh(viaProxy), await fresh(viaProxy)]).toEqual([200, 200]);
      expect(await exited).toBe(0);
      expect(seen).toEqual(['GET /page', 'GET /page']);
      expect(proc.lines.filter((l) => l.type === 'forwarded_for_untrusted')).toHaveLength(1);
      expect(
        proc.lines.filter((l) => l.type === 'request').map((l) => `${l.method} ${l.status} ${l.error}`),
      ).toEqual(['TRACE 405 trace_not_supported', 'OPTIONS 503 not_ready', 'GET 200 null', 'GET 200 null']);
    } finally {
      await app.close();
    }
  });

  it('an interrupt (SIGINT) stops accepting at once', async () => {
    const proc = await startSidecarProcess(config(), ['--shutdown-delay', '2s', '--shutdown-grace', '6s']);
    const signalled = performance.now();
    proc.child.kill('SIGINT');
    await proc.waitForLine((l) => l.type === 'sidecar_stopped', 5_000);
    expect(performance.now() - signalled).toBeLessThan(1_500);
    expect(proc.lines.find((l) => l.type === 'sidecar_stopping')).toMatchObject({
      signal: 'SIGINT',
      delayMs: 0,
    });
    await proc.stop();
  });

  it('is at most half the grace', async () => {
    await expect(
      startSidecarProcess(config(), ['--shutdown-delay', '4s', '--shutdown-grace', '6s']),
    ).rejects.toThrow(/--shutdown-delay: at most half of --shutdown-grace/);
  });
});
