import { describe, expect, it } from 'vitest';
import { builtSidecarForFile } from '../helpers/built-sidecar.ts';
import { eventually, openRaw, type RawClient, sleep, statusesOf } from '../helpers/hostile.ts';
import { anonymousRssBytes, loopbackAppDir, startSidecarProcess } from '../helpers/sidecar-process.ts';

/**
 * HTTP/1.1 lets a client send requests without waiting for the answers (pipelining), and the
 * parser reads them as fast as they come. Before: every pipelined request ran at once, and the
 * answers waited in order behind the first; one connection that sent 20,000 requests behind one
 * the upstream never answered held 1,680 requests in flight, its address's whole share of the
 * upstream pool and its place in line, and kept them after it closed (a paused socket hears
 * nothing); 48 such connections took the sidecar from 65 MiB to 2.2 GB. The built sidecar, as
 * shipped, against raw sockets.
 */
const built = builtSidecarForFile();

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
const requestLines = (prefix: string) =>
  built.sidecar.lines.filter((l) => l.type === 'request' && String(l.uri).startsWith(prefix));
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${built.sidecar.adminPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

describe('pipelined requests', () => {
  it('are answered in order, and run one after another: the ones behind a slow answer wait unstarted', async () => {
    // A client that half-closes (FIN) after its requests still gets every answer.
    const polite = await openRaw(built.sidecar.port, '127.9.0.1');
    polite.socket.end(Array.from({ length: 20 }, (_, i) => GET(`/polite-${i}`)).join(''));
    await eventually('every answer', () => statusesOf(polite.received()).length === 20);
    expect(statusesOf(polite.received()).every((s) => s === 200)).toBe(true);
    polite.socket.destroy();

    const seen = built.upstream.seen.length;
    const client = await openRaw(built.sidecar.port, '127.9.0.2');
    client.socket.write(GET('/hang') + Array.from({ length: 5 }, (_, i) => GET(`/behind-${i}`)).join(''));
    await sleep(300);
    expect(built.upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/hang']);
    // The client gives up: the one at the upstream and the five in line each get their line.
    client.socket.resetAndDestroy();
    await eventually('a line for each', () => requestLines('/behind-').length === 5);
    expect(requestLines('/behind-').every((l) => l.status === 499 && l.outcome === 'client_abort')).toBe(
      true,
    );
    expect(built.upstream.seen.length).toBe(seen + 1);
  });

  it('an upload in line whose body trickles waits unstarted; a reset mid-body ends both with their lines', async () => {
    const seen = built.upstream.seen.length;
    const client = await openRaw(built.sidecar.port, '127.9.0.6');
    client.socket.write(
      `${GET('/hang')}POST /upload-in-line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n0123456789`,
    );
    for (let i = 0; i < 8; i++) {
      await sleep(100);
      client.socket.write('0123456789');
    }
    expect(built.upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/hang']);
    expect(client.isClosed()).toBe(false);
    client.socket.resetAndDestroy();
    await eventually('a line for the upload', () => requestLines('/upload-in-line').length === 1);
    expect(requestLines('/upload-in-line')[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
    expect(built.upstream.seen.length).toBe(seen + 1);
  });

  it('more than 32 unanswered on one connection close it: the one over gets its line, what was read behind it is counted', async () => {
    const seen = built.upstream.seen.length;
    const before = await metric('gatehouse_client_requests_discarded_total');
    const flood = await openRaw(built.sidecar.port, '127.9.0.3');
    flood.socket.write(GET('/hang') + Array.from({ length: 2_000 }, (_, i) => GET(`/flood-${i}`)).join(''));
    await flood.closed;
    expect(flood.received()).toBe(''); // nothing is answered out of order
    const over = await built.sidecar.waitForLine(
      (l) => l.type === 'request' && l.error === 'pipelining_limit',
    );
    expect([over.uri, over.status, over.outcome]).toEqual(['/flood-31', 400, 'rejected']);
    // The first (cut before or after it reached the upstream) and the 31 in line end with the
    // connection; none of those in line reached the built.upstream.
    await eventually(
      'their lines',
      () => requestLines('/flood-').length === 32 && requestLines('/hang').length > 0,
    );
    expect(built.upstream.seen.slice(seen).every((r) => r.url === '/hang')).toBe(true);
    const discarded = (await metric('gatehouse_client_requests_discarded_total')) - before;
    expect(discarded).toBeGreaterThan(0);
    expect(32 + discarded).toBeLessThanOrEqual(2_000);
  });

  it('thirty connections from one address, each 10,000 requests behind one that never ends: memory stays bounded', async () => {
    const pid = built.sidecar.child.pid as number;
    const rest = anonymousRssBytes(pid);
    let peak = rest;
    const sampler = setInterval(() => {
      peak = Math.max(peak, anonymousRssBytes(pid));
    }, 20);
    const batch = GET('/hang') + GET('/more').repeat(9_999);
    const clients: RawClient[] = [];
    for (let i = 0; i < 30; i++) {
      const c = await openRaw(built.sidecar.port, '127.9.0.4');
      c.socket.write(batch);
      clients.push(c);
    }
    await eventually('every flood closed', () => clients.every((c) => c.isClosed()), 15_000);
    clearInterval(sampler);
    // Before: each such connection held about 1,700 requests (until the answers queued behind
    // the first made Node stop reading) and stayed open; 48 of them took 2.2 GB.
    expect((peak - rest) / 2 ** 20).toBeLessThan(150);
    let inUse = Number.NaN;
    for (let i = 0; i < 50 && inUse !== 0; i++) {
      inUse = await metric('gatehouse_upstream_slots_in_use');
      if (inUse !== 0) await sleep(100);
    }
    expect(inUse).toBe(0); // nothing left holding the upstream
  }, 30_000);
});

describe('a pipelined head that trickles', () => {
  it('behind a slow answer: the answer goes out, then the 408 for the head, each with its line', async () => {
    const own = await startSidecarProcess(loopbackAppDir(built.upstream.url), [
      '--client-header-timeout',
      '1s',
    ]);
    try {
      const client = await openRaw(own.port, '127.9.0.8');
      client.socket.write(`${GET('/slow')}GET /trickled HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      const drip = setInterval(() => client.socket.write('X-Slow: 1\r\n'), 200);
      try {
        await client.closed;
      } finally {
        clearInterval(drip);
      }
      expect(statusesOf(client.received())).toEqual([200, 408]);
      // The head never ended, so its line knows no target: a 408 from the client's address.
      const timedOut = await own.waitForLine((l) => l.type === 'request' && l.status === 408);
      expect([timedOut.outcome, timedOut.clientIp]).toEqual(['client_timeout', '127.9.0.8']);
      expect(own.lines.filter((l) => l.type === 'request').map((l) => l.status)).toEqual([200, 408]);
    } finally {
      await own.stop();
    }
  });
});

describe('pipelined requests at shutdown', () => {
  it('the ones in line when the grace ends each get their line, and the sidecar exits within it', async () => {
    const own = await startSidecarProcess(loopbackAppDir(built.upstream.url), ['--shutdown-grace', '1s']);
    const client = await openRaw(own.port, '127.9.0.5');
    client.socket.write(GET('/hang') + GET('/queued-1') + GET('/queued-2') + GET('/queued-3'));
    await sleep(200);
    const began = performance.now();
    expect(await own.stop()).toBe(0);
    expect(performance.now() - began).toBeLessThan(1_700);
    const uris = own.lines.filter((l) => l.type === 'request').map((l) => l.uri);
    expect(uris.sort()).toEqual(['/hang', '/queued-1', '/queued-2', '/queued-3']);
    client.socket.destroy();
  });
});
