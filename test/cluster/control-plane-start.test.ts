import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startControlPlane } from '../helpers/control-plane.ts';

// The suites start many control planes on ports chosen with freePort, while other suites bind
// ports of their own: a chosen port can be taken before etcd or kube-apiserver binds it. The
// start must notice the exit at once and start again on new ports, not wait a minute and fail.

const held: Server[] = [];
// The harness's readiness probe may connect to the taken port and wait there for a TLS handshake
// that never comes; close() waits for every connection, so the connections are ended first.
const accepted = new Set<Socket>();
afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
});

async function takenPort(): Promise<number> {
  const server = createServer((socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  held.push(server);
  return (server.address() as { port: number }).port;
}

describe('the test control plane', () => {
  it('starts again on new ports when the API server port it chose is taken meanwhile', async () => {
    // The third port of the first attempt is the API server's: hand out one that is in use.
    const taken = await takenPort();
    const given: number[] = [];
    const port = async () => {
      const next = given.length === 2 ? taken : await freePort();
      given.push(next);
      return next;
    };
    const started = Date.now();
    const plane = await startControlPlane({ port });
    try {
      expect(given.length).toBe(6); // two attempts of three ports
      expect(plane.server).not.toContain(`:${taken}`);
      expect(await plane.kubectl(['get', 'namespaces', '-o', 'name'])).toContain('namespace/default');
      expect(Date.now() - started).toBeLessThan(45_000); // not the minute of waiting for readiness
    } finally {
      await plane.stop();
    }
  }, 120_000);
});
