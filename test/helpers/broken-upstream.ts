import { createServer, type Server, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

/**
 * An application that fails in every way an HTTP/1.1 server can, at the socket: each request's
 * path picks a failure (see BROKEN_ANSWERS); any other path gets `200 ok`. Requests are read
 * one after another on a connection (keep-alive), so a healthy request after a broken one shows
 * the sidecar recovered.
 */
export interface BrokenUpstream {
  readonly url: string;
  readonly port: number;
  /** Paths requested so far, in order. */
  readonly requested: string[];
  close(): Promise<void>;
}

type Act = (socket: Socket) => void;

const write =
  (text: string, then: 'keep' | 'end' | 'reset' = 'keep'): Act =>
  (socket) => {
    socket.write(text, 'latin1', () => {
      if (then === 'end') socket.end();
      if (then === 'reset') socket.resetAndDestroy();
    });
  };

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const GZIPPED_OK = gzipSync('ok');
const HEAD_CUT = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part';

/** The failures by path, each what a real application or a crash of one does. */
export const BROKEN_ANSWERS: Readonly<Record<string, Act>> = {
  '/reset': (socket) => socket.resetAndDestroy(),
  '/closed': (socket) => socket.end(),
  '/cut': write(HEAD_CUT, 'end'),
  '/cut-reset': write(HEAD_CUT, 'reset'),
  '/silent': () => undefined,
  '/stall': write(HEAD_CUT),
  '/huge-head': write(
    `HTTP/1.1 200 OK\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: v\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
  ),
  '/two-lengths': write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'),
  '/continue': write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  '/upgrade': write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
  '/bad-status': write('HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok'),
  '/bad-header': write('HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 2\r\n\r\nok'),
  // A transfer coding besides chunked: taken off, the chunking leaves gzip bytes as the body.
  '/gzip-coded': write(
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${GZIPPED_OK.length.toString(16)}\r\n${GZIPPED_OK.toString('latin1')}\r\n0\r\n\r\n`,
  ),
  // Informational responses and never a final one: a 103 Early Hints every 200 ms.
  '/hints-forever': (socket) => {
    const hint = setInterval(() => {
      if (socket.writable) socket.write('HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n');
    }, 200);
    socket.on('close', () => clearInterval(hint));
  },
};

/** Time between the pieces of an answer given in pieces. */
export const PIECE_INTERVAL_MS = 300;

/** Writes the pieces one after another, PIECE_INTERVAL_MS apart (while the socket is open). */
const inPieces =
  (pieces: readonly string[]): Act =>
  (socket) => {
    for (const [i, piece] of pieces.entries())
      setTimeout(() => {
        if (socket.writable) socket.write(piece, 'latin1');
      }, i * PIECE_INTERVAL_MS);
  };

/**
 * `more`: further paths and the raw bytes each is answered with (the connection stays open);
 * an answer given as pieces has them written PIECE_INTERVAL_MS apart.
 */
export async function startBrokenUpstream(
  more: Readonly<Record<string, string | readonly string[]>> = {},
): Promise<BrokenUpstream> {
  const requested: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const path = (pending.split(' ', 2)[1] ?? '/').split('?')[0] ?? '/';
        pending = pending.slice(end + 4);
        requested.push(path);
        const raw = more[path];
        const act =
          raw === undefined
            ? (BROKEN_ANSWERS[path] ?? write(OK))
            : typeof raw === 'string'
              ? write(raw)
              : inPieces(raw);
        act(socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requested,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
