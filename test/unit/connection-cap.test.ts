import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createClientConnections } from '../../sidecar/src/net/client-connections.ts';
import type { ClientRateLimits } from '../../sidecar/src/net/client-rate-check.ts';
import { openRaw, sleep } from '../helpers/hostile.ts';

/** The cap alone: no body, deadline or response rate checks. */
const NO_RATE_CHECKS: ClientRateLimits = {
  bodyTimeoutMs: 0,
  bodyMinRate: 500,
  requestTimeoutMs: 0,
  sendMinRate: 0,
  idleTimeoutMs: 0,
  contendedRate: 0,
};

describe('the connection cap and a request waiting for the log to drain', () => {
  it('an announced request keeps its connection out of the idle order until the pipeline begins it', async () => {
    const waiting: { req: IncomingMessage; res: ServerResponse }[] = [];
    const server = createServer();
    const evicted: number[] = [];
    const connections = createClientConnections(server, NO_RATE_CHECKS, {
      maxConnections: 2,
      onDropped: () => evicted.push(0),
      onEvicted: () => evicted.push(1),
    });
    // As the sidecar does while its log is congested: the request is announced, not begun.
    server.on('request', (req, res) => {
      connections.of(req.socket)?.announce();
      waiting.push({ req, res });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const announced = await openRaw(port, '127.8.9.1');
      announced.socket.write('GET /waits HTTP/1.1\r\nHost: x\r\n\r\n');
      await sleep(100);
      const silent = await openRaw(port, '127.8.9.2');
      await sleep(50);
      const newcomer = await openRaw(port, '127.8.9.3');
      // the silent one made room, though it came later
      expect(await silent.until(() => silent.isClosed(), 2_000)).toBe(true);
      expect(announced.isClosed()).toBe(false);
      expect(evicted).toEqual([1]);
      // Begun and finished, it is idle again, since after the newcomer: the next one closes the newcomer.
      const first = waiting[0];
      if (!first) throw new Error('no request');
      const begun = connections.of(first.req.socket);
      const finish = begun?.begin({
        startedAtMs: performance.now(),
        reading: () => 'done',
        waitsOnClient: () => false,
        upstreamWanted: () => false,
        timeout: () => undefined,
        broken: () => undefined,
        peerEnded: () => undefined,
      });
      first.res.end('ok');
      finish?.();
      await sleep(50);
      const another = await openRaw(port, '127.8.9.4');
      expect(await newcomer.until(() => newcomer.isClosed(), 2_000)).toBe(true);
      expect(announced.isClosed()).toBe(false);
      expect(evicted).toEqual([1, 1]);
      for (const c of [announced, silent, newcomer, another]) c.socket.destroy();
    } finally {
      connections.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('the requests ahead of a pipelined upgrade include those in line or waiting to begin, not only those begun', async () => {
    const arrived: {
      req: IncomingMessage;
      res: ServerResponse;
      turn: Promise<void> | null | 'over';
      finish?: () => void;
    }[] = [];
    const server = createServer();
    const connections = createClientConnections(server, NO_RATE_CHECKS, {
      maxConnections: 8,
      onDropped: () => undefined,
      onEvicted: () => undefined,
    });
    const begin = (socket: IncomingMessage['socket']) =>
      connections.of(socket)?.begin({
        startedAtMs: performance.now(),
        reading: () => 'done',
        waitsOnClient: () => false,
        upstreamWanted: () => false,
        timeout: () => undefined,
        broken: () => undefined,
        peerEnded: () => undefined,
      });
    // As the sidecar does: a request that may start begins at once; one in line waits.
    server.on('request', (req, res) => {
      const turn = connections.of(req.socket)?.takeTurn() ?? null;
      arrived.push({ req, res, turn, ...(turn === null ? { finish: begin(req.socket) } : {}) });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const client = await openRaw(port, '127.8.9.5');
      client.socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until(() => arrived.length === 2, 2_000);
      const [first, second] = arrived;
      if (!first || !second) throw new Error('two requests expected');
      expect(first.turn).toBeNull();
      expect(second.turn).toBeInstanceOf(Promise);
      const finishFirst = first.finish;
      let secondsTurn = false;
      void (second.turn as Promise<void>).then(() => {
        secondsTurn = true;
      });
      const connection = connections.of(first.req.socket);
      first.res.end('ok');
      finishFirst?.();
      await sleep(20);
      // The second's turn came; it has not begun yet (as while the log is congested). An upgrade
      // pipelined behind it asks now whether the requests ahead are done: they are not.
      expect(secondsTurn).toBe(true);
      let idle = false;
      void connection?.whenIdle().then(() => {
        idle = true;
      });
      await sleep(20);
      expect(idle).toBe(false);
      const finishSecond = begin(second.req.socket);
      await sleep(20);
      expect(idle).toBe(false);
      second.res.end('ok');
      finishSecond?.();
      await sleep(20);
      expect(idle).toBe(true);
      client.socket.destroy();
    } finally {
      connections.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
