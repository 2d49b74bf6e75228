import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startUpstream, type TestUpstream } from './upstream.ts';

/** A raw client socket that keeps everything it receives. */
export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** True once the connection has closed. */
  isClosed(): boolean;
  /** True when the peer reset the connection (RST) rather than closed it. */
  reset(): boolean;
  /** Resolves when the peer closed (or the socket errored). */
  readonly closed: Promise<void>;
  /** Resolves once the received text matches, or rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Polls a condition for up to ms; resolves with whether it came true (never rejects). */
  until(condition: () => boolean, ms: number): Promise<boolean>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps what a socket receives and tells when it closed. */
export function watchSocket(socket: Socket): RawClient {
  const chunks: Buffer[] = [];
  let isClosed = false;
  let wasReset = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') wasReset = true;
  });
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      isClosed = true;
      r();
    }),
  );
  const received = () => Buffer.concat(chunks).toString('latin1');
  const until = async (condition: () => boolean, ms: number) => {
    const end = performance.now() + ms;
    while (!condition() && performance.now() < end) await pause(10);
    return condition();
  };
  return {
    socket,
    received,
    isClosed: () => isClosed,
    reset: () => wasReset,
    closed,
    until,
    async waitFor(pattern, timeoutMs = 5_000) {
      if (await until(() => pattern.test(received()), timeoutMs)) return received();
      throw new Error(
        `no ${pattern} within ${timeoutMs} ms; received ${JSON.stringify(received().slice(0, 300))}`,
      );
    },
  };
}

/**
 * Opens a connection to a loopback port from a given 127.x source address (or from `::1`, over
 * IPv6); null when it fails.
 * `neverClose`: the client keeps its side open after the server's FIN (it may half-close), as a
 * client that never closes does; by default it closes as the server ends.
 */
export function dial(port: number, from = '127.0.0.1', neverClose = false): Promise<Socket | null> {
  return new Promise((resolve) => {
    const host = from.includes(':') ? '::1' : '127.0.0.1';
    const socket = connect({ port, host, localAddress: from, allowHalfOpen: neverClose });
    socket.on('error', () => resolve(null));
    socket.once('connect', () => resolve(socket));
  });
}

/** Opens a raw TCP connection to a loopback port (optionally from another 127.x source address; see dial for `neverClose`). */
export async function openRaw(
  port: number,
  localAddress = '127.0.0.1',
  neverClose = false,
): Promise<RawClient> {
  const socket = await dial(port, localAddress, neverClose);
  if (!socket) throw new Error(`cannot connect to ${port} from ${localAddress}`);
  return watchSocket(socket);
}

/**
 * Sends `request` on a new connection (`open` makes it; `ready` is the event after which it may
 * write: `connect`, or `secureConnect` for TLS) and resolves with the answer's status, or with the
 * connection's error code (ECONNREFUSED when nothing accepts it).
 */
export function statusOnNewConnection(
  open: () => Socket,
  request: string,
  ready: 'connect' | 'secureConnect' = 'connect',
): Promise<number | string> {
  return new Promise((resolve) => {
    const socket = open();
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on(ready, () => socket.write(request));
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
export async function eventually(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `promise` resolves with, or an error naming `what` when it has not within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * What the kernel holds unsent on the IPv4 loopback connection from `localPort` to `remotePort`
 * (its send queue, from /proc/net/tcp), in bytes; undefined when there is no such connection.
 * A closed connection whose peer reads nothing stays listed (FIN-WAIT-1) with what it held.
 */
export function kernelSendQueue(localPort: number, remotePort: number): number | undefined {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex(localPort)}`) && remote?.endsWith(`:${hex(remotePort)}`))
      return Number.parseInt(queues?.split(':')[0] ?? '0', 16);
  }
  return undefined;
}

/**
 * Writes `chunks` copies of `chunk` (without end, for ever) as fast as `stream` takes them,
 * waiting for `drain` when it is full; then ends it when a count was given.
 */
export function feed(
  stream: NodeJS.WritableStream & { readonly destroyed: boolean },
  chunk: Buffer,
  chunks = Infinity,
): void {
  let left = chunks;
  const pump = (): void => {
    while (left > 0 && !stream.destroyed) {
      left--;
      if (!stream.write(chunk)) {
        stream.once('drain', pump);
        return;
      }
    }
    if (left === 0) stream.end();
  };
  pump();
}
