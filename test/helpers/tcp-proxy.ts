import { connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a server, to break the path on purpose: `down` drops every
 * connection and refuses new ones; `freeze` keeps existing connections open but moves no more
 * bytes on them (a silently stalled stream), while new connections work.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream, frozen: false };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    port,
    /** Connections open now. */
    get connections() {
      return pairs.size;
    },
    setDown(value: boolean) {
      down = value;
      if (value) for (const p of pairs) p.client.destroy();
    },
    /** Stalls every connection open now; later connections flow. */
    freezeExisting() {
      for (const p of pairs) p.frozen = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) p.client.destroy();
        server.close(() => r());
      }),
  };
}
