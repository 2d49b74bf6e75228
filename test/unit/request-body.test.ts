import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type BodyRead, readRequestBody } from '../../lib/request-body.ts';

/** Sends a raw request and returns what the server's reader came to. */
async function readWith(
  raw: string,
  max: number,
  serverAction?: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
): Promise<BodyRead> {
  let result: (value: BodyRead) => void = () => undefined;
  const read = new Promise<BodyRead>((r) => {
    result = r;
  });
  const server = createServer((req, res) => {
    void readRequestBody(req, max).then((body) => {
      result(body);
      if (!res.headersSent) res.end();
    });
    serverAction?.(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1', () => client.write(raw));
  client.on('error', () => undefined);
  client.on('data', () => undefined);
  const timeout = new Promise<BodyRead>((_, reject) =>
    setTimeout(() => reject(new Error('reader still waiting after 2 s')), 2_000),
  );
  try {
    return await Promise.race([read, timeout]);
  } finally {
    client.destroy();
    server.closeAllConnections();
    server.close();
  }
}

const head = (length: number) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;

describe('reading a request body', () => {
  it('a complete body', async () => {
    expect(await readWith(`${head(5)}hello`, 100)).toEqual({ kind: 'complete', text: 'hello' });
  });

  it('a body over the limit ends the read at once', async () => {
    expect(await readWith(`${head(200)}${'x'.repeat(150)}`, 100)).toEqual({ kind: 'too_large' });
  });

  it('a body cut short by the client ends the read', async () => {
    expect(
      await readWith(`${head(100)}abc`, 1_000, (req) => setTimeout(() => req.socket.destroy(), 50)),
    ).toEqual({
      kind: 'gone',
    });
  });

  it('the server answering early and closing the connection ends the read (a stream reader would wait for ever)', async () => {
    const read = await readWith(`${head(100)}abc`, 1_000, (_req, res) =>
      setTimeout(() => {
        res.writeHead(408, { connection: 'close' });
        res.end('too slow');
      }, 50),
    );
    expect(read).toEqual({ kind: 'gone' });
  });
});
