import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminConnectionClosed, guardAdminConnections } from '../../lib/admin-connections.ts';
import { dial, eventually, type RawClient, sleep, watchSocket } from '../helpers/hostile.ts';

/** A server whose `/hold` requests stay unanswered until released; anything else is answered at once. */
async function guardedServer(perPeer: number, total: number) {
  const closed: AdminConnectionClosed[] = [];
  const held: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url === '/hold') held.push(() => res.end('released\n'));
    else res.end('ok\n');
  });
  guardAdminConnections(server, { perPeer, total }, (reason) => closed.push(reason));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sockets: Socket[] = [];
  const open = async (from: string) => {
    const socket = await dial(port, from);
    if (!socket) throw new Error(`no connection from ${from}`);
    sockets.push(socket);
    const client = watchSocket(socket);
    await sleep(20); // the server has taken it (or closed it) before the next one comes
    return client;
  };
  return {
    closed,
    open,
    release: () => {
      for (const r of held.splice(0)) r();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

let current: Awaited<ReturnType<typeof guardedServer>> | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe('admin port connections: a share per peer address and a total', () => {
  it('a peer past its share is closed on accept; other peers still get in', async () => {
    current = await guardedServer(2, 10);
    const a1 = await current.open('127.6.0.1');
    const a2 = await current.open('127.6.0.1');
    const a3 = await current.open('127.6.0.1');
    const b1 = await current.open('127.6.0.2');
    await a3.closed;
    expect([a1.isClosed(), a2.isClosed(), b1.isClosed()]).toEqual([false, false, false]);
    expect(current.closed).toEqual(['peer_limit']);
    a1.socket.destroy();
    await sleep(50);
    const a4 = await current.open('127.6.0.1'); // the share is free again once one closed
    a4.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await a4.waitFor(/ok\n$/);
  });

  it('at the total, a new connection closes the one idle longest, whether it never sent a request or was answered', async () => {
    current = await guardedServer(10, 3);
    const silent = await current.open('127.6.1.1');
    const answered = await current.open('127.6.1.2');
    const busy = await current.open('127.6.1.3');
    answered.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered.waitFor(/ok\n$/);
    busy.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50);
    const probe1 = await current.open('127.6.1.4');
    await silent.closed; // idle since it opened: longest
    expect(answered.isClosed()).toBe(false);
    const probe2 = await current.open('127.6.1.5');
    await answered.closed; // idle since its answer; the busy one is never chosen
    expect(busy.isClosed()).toBe(false);
    expect(current.closed).toEqual(['evicted', 'evicted']);
    probe2.socket.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    await probe2.waitFor(/ok\n$/);
    current.release();
    await busy.waitFor(/released\n$/);
    expect(probe1.isClosed()).toBe(false);
  });

  it('refused only when every connection is in the middle of a request', async () => {
    current = await guardedServer(10, 2);
    const first = await current.open('127.6.2.1');
    const second = await current.open('127.6.2.2');
    for (const c of [first, second]) c.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50);
    const refused = await current.open('127.6.2.3');
    await refused.closed;
    expect(refused.received()).toBe('');
    expect(current.closed).toEqual(['full']);
    current.release();
    await first.waitFor(/released\n$/);
    await second.waitFor(/released\n$/);
    const later = await current.open('127.6.2.3'); // both idle now: it takes the place of the first
    await first.closed;
    later.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await later.waitFor(/ok\n$/);
    expect(current.closed).toEqual(['full', 'evicted']);
  });

  it('fifty connections from one address leave its share open and count the rest', async () => {
    current = await guardedServer(16, 256);
    const guard = current;
    const clients: RawClient[] = [];
    for (let i = 0; i < 50; i++) clients.push(await guard.open('127.6.3.1'));
    await eventually('the share left open', () => clients.filter((c) => !c.isClosed()).length === 16, 2_000);
    expect(guard.closed).toEqual(Array.from({ length: 34 }, () => 'peer_limit'));
  });
});
