import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';

// An application bound to every address (as most servers bind by default) is reached at the pod's
// address too, past the sidecar. The shipped sidecar reads the listening sockets of its network
// namespace (here the machine's) and says so: an event with the addresses, and a gauge.

const started: { sidecar: SidecarProcess; server: Server }[] = [];
afterAll(async () => {
  for (const { sidecar, server } of started) {
    await sidecar.stop();
    server.close();
  }
});

/** An application listening on `host`; it serves loopback clients only (nothing else is let in). */
async function application(host: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => res.end('app'));
  server.on('connection', (socket) => {
    if (!socket.remoteAddress?.replace(/^::ffff:/, '').startsWith('127.')) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

async function sidecarFor(host: string): Promise<{ sidecar: SidecarProcess; port: number }> {
  const { port, server } = await application(host);
  const sidecar = await startSidecarProcess(loopbackAppDir(`http://127.0.0.1:${port}`));
  started.push({ sidecar, server });
  return { sidecar, port };
}

const gauge = async (sidecar: SidecarProcess) =>
  /^gatehouse_application_port_open (\d)$/m.exec(
    await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text(),
  )?.[1];

describe('the application port beyond loopback', () => {
  it('an application on 127.0.0.1: 0, and nothing said', async () => {
    const { sidecar } = await sidecarFor('127.0.0.1');
    await eventually('the gauge', async () => (await gauge(sidecar)) === '0', 5_000);
    expect(sidecar.lines.filter((l) => l.type === 'application_port_open')).toEqual([]);
  });

  it('an application on every address: the event names 0.0.0.0 and what to do, and the gauge is 1', async () => {
    const { sidecar, port } = await sidecarFor('0.0.0.0');
    const line = await sidecar.waitForLine((l) => l.type === 'application_port_open', 5_000);
    expect(line).toMatchObject({
      port,
      addresses: ['0.0.0.0'],
      hint: `bind the application to 127.0.0.1:${port} (the sidecar reaches it there), or close the port with a NetworkPolicy; have it verify the identity JWT either way`,
    });
    expect(await gauge(sidecar)).toBe('1');
  });
});
