import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClientConnections } from '../../sidecar/src/net/client-connections.ts';
import { eventually, openRaw } from '../helpers/hostile.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('the slow-body check of client connections', () => {
  it('runs only while a request is being read: not for an idle keep-alive connection, and again for its next request', async () => {
    // Only the global interval functions are faked: the check's timer is counted and moved by
    // hand, while sockets and node:http (which takes its own from node:timers) run for real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const server = createServer();
    const connections = createClientConnections(
      server,
      {
        bodyTimeoutMs: 1_000,
        bodyMinRate: 500,
        requestTimeoutMs: 0,
        sendMinRate: 0,
        idleTimeoutMs: 0,
        contendedRate: 0,
      },
      { maxConnections: 8, onDropped: () => undefined, onEvicted: () => undefined },
    );
    const arrived: { req: IncomingMessage; res: ServerResponse; finish: () => void }[] = [];
    const timedOut: string[] = [];
    let reading: 'done' | 'reading' = 'reading';
    server.on('request', (req, res) => {
      const finish = connections.of(req.socket)?.begin({
        startedAtMs: performance.now(),
        reading: () => reading,
        waitsOnClient: () => false,
        upstreamWanted: () => false,
        timeout: (reason) => timedOut.push(reason),
        broken: () => undefined,
        peerEnded: () => undefined,
      });
      if (finish) arrived.push({ req, res, finish });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const client = await openRaw(port);
      expect(vi.getTimerCount()).toBe(0); // an open connection with no request: nothing to check
      client.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      await eventually('the request', () => arrived.length === 1);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(1_000);
      expect(vi.getTimerCount()).toBe(1); // still reading its body
      reading = 'done';
      vi.advanceTimersByTime(1_000);
      expect(vi.getTimerCount()).toBe(0); // read: the check stops though the request is not answered
      const first = arrived[0];
      if (!first) throw new Error('no request');
      first.req.resume();
      first.res.end('ok');
      first.finish();
      await client.waitFor(/HTTP\/1\.1 200/, 2_000);
      vi.advanceTimersByTime(5_000);
      expect(vi.getTimerCount()).toBe(0); // kept alive and idle
      expect(client.isClosed()).toBe(false);
      // The next request on it starts the check again, and its silence is cut.
      reading = 'reading';
      client.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
      await eventually('the second request', () => arrived.length === 2);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(3_000);
      expect(timedOut[0]).toBe('body_too_slow');
      client.socket.destroy();
    } finally {
      connections.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
