import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startUpstream, type TestUpstream } from './upstream.ts';

/** A raw client socket that keeps everything it receives. */
export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves when the peer closed (or the socket errored). */
  readonly closed: Promise<void>;
  /** Resolves once the received text matches, or rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Opens a raw TCP connection to a loopback port (optionally from another 127.x source address). */
export function openRaw(port: number, localAddress = '127.0.0.1'): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    let notify: (() => void) | undefined;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      notify?.();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const received = () => Buffer.concat(chunks).toString('latin1');
    socket.once('connect', () =>
      resolve({
        socket,
        received,
        closed,
        waitFor(pattern, timeoutMs = 5_000) {
          return new Promise((res, rej) => {
            const check = () => {
              if (pattern.test(received())) {
                clearTimeout(timer);
                notify = undefined;
                res(received());
              }
            };
            const timer = setTimeout(() => {
              notify = undefined;
              rej(
                new Error(
                  `no ${pattern} within ${timeoutMs} ms; received ${JSON.stringify(received().slice(0, 300))}`,
                ),
              );
            }, timeoutMs);
            notify = check;
            void closed.then(check);
            check();
          });
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** The status codes of every response in a raw HTTP/1.1 byte stream, in order. */
export function statusesOf(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** A WebSocket upgrade request for a path (the key is fixed; the upstream stand-in does not check it). */
export function upgradeRequest(path: string, host = '127.0.0.1'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

export interface HostileUpstreamOptions {
  /** Delay before the 101 of an upgrade (a slow handshake). */
  readonly upgradeDelayMs?: number;
}

/** The test upstream with routes for attack tests, and upgrades that echo. */
export interface HostileUpstream extends TestUpstream {
  /** Upgrades answered with 101 that are still open. */
  readonly tunnels: Set<Socket>;
}

/**
 * Routes: `/slow` answers after 300 ms; `/hang` never answers; `/big` sends 8 MiB; `/upload`
 * reads the body and answers with its length; anything else answers `ok` at once.
 */
export async function startHostileUpstream(options: HostileUpstreamOptions = {}): Promise<HostileUpstream> {
  const tunnels = new Set<Socket>();
  const base = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/slow') {
      const timer = setTimeout(() => res.end('slow ok'), 300);
      res.on('close', () => clearTimeout(timer));
    } else if (path === '/hang') {
      // never answers
    } else if (path === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 8 * 1024 * 1024 });
      res.end(Buffer.alloc(8 * 1024 * 1024, 7));
    } else if (path?.startsWith('/upload')) {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`received ${n}`));
    } else {
      req.resume();
      res.end('ok');
    }
  });
  base.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    base.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      headers: req.headers,
      remotePort: socket.remotePort ?? 0,
    });
    socket.on('error', () => undefined);
    const answer = () => {
      if (socket.destroyed) return;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      tunnels.add(socket);
      socket.on('close', () => tunnels.delete(socket));
      socket.pipe(socket); // echo
    };
    if (options.upgradeDelayMs) setTimeout(answer, options.upgradeDelayMs);
    else answer();
  });
  return {
    ...base,
    tunnels,
    async close() {
      for (const s of base.sockets) s.destroy();
      await base.close();
    },
  };
}

/** Polls until the condition holds, or throws after timeoutMs. */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
