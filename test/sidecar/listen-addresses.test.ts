import { request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InjectionContext, injectPod } from '../../operator/src/injection/inject-pod.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import type { ContainerLike } from '../../operator/src/injection/pod-shape.ts';
import { openRaw, sleep, upgradeRequest } from '../helpers/hostile.ts';
import {
  applicationYaml,
  policyYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A pod of an IPv6 (or dual-stack) cluster is reached on its IPv6 address: by the Service, the
// ingress and the kubelet's probes. The sidecar as injected must listen there as well as on IPv4.

const context: InjectionContext = {
  settings: parseInjectionSettings(
    {
      image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
      operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
    },
    'test',
  ),
  caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  nativeSidecar: true,
};

/** The listen flags of the injected sidecar, on ephemeral ports (the address part as injected). */
function injectedListenArgs(): string[] {
  const result = injectPod(
    {
      metadata: { labels: { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'wiki' } },
      spec: { containers: [{ name: 'wiki', ports: [{ name: 'http', containerPort: 8080 }] }] },
    },
    context,
  );
  if (result.kind !== 'injected') throw new Error(`not injected: ${JSON.stringify(result)}`);
  const sidecar = result.pod.spec?.initContainers?.[0] as ContainerLike | undefined;
  const args = (sidecar?.args ?? []) as string[];
  return ['--listen', '--admin-listen'].flatMap((flag) => {
    const value = args[args.indexOf(flag) + 1] as string;
    expect(value, flag).toMatch(/:\d+$/);
    return [flag, value.replace(/\d+$/, '0')];
  });
}

function get(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: { host: 'wiki.test', connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

let upstream: TestUpstream;
let sidecar: SidecarProcess;

beforeAll(async () => {
  // Answers once it has the whole request body, as most applications answer a POST.
  upstream = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end(`app saw ${req.url}`));
  });
  // WebSocket handshakes answered after 300 ms, then an echo.
  upstream.server.on('upgrade', (_req, socket: Socket) => {
    socket.on('error', () => undefined);
    setTimeout(() => {
      if (socket.destroyed) return;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    }, 300);
  });
  const dir = writeConfigDir(
    `${applicationYaml({ hosts: ['wiki.test'], upstream: { url: upstream.url }, policies: [{ name: 'loopback' }] }, 'wiki')}---\n${policyYaml(
      'loopback',
      { decision: 'bypass', include: [{ ipRanges: ['127.0.0.0/8', '::1/128'] }] },
    )}`,
  );
  sidecar = await startSidecarProcess(dir, [
    ...injectedListenArgs(),
    '--client-header-timeout=1s',
    '--client-body-timeout=1s',
  ]);
});

afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
});

describe('the sidecar as injected, on a host with IPv6', () => {
  it('serves the traffic port and answers probes on the admin port over IPv6 and IPv4', async () => {
    expect(await get('::1', sidecar.port, '/six')).toBe(200);
    expect(await get('127.0.0.1', sidecar.port, '/four')).toBe(200);
    expect(await get('::1', sidecar.adminPort, '/readyz')).toBe(200);
    expect(await get('127.0.0.1', sidecar.adminPort, '/healthz')).toBe(200);
    expect(sidecar.started).toMatchObject({
      listen: `[::]:${sidecar.port}`,
      adminListen: `[::]:${sidecar.adminPort}`,
    });
  });

  it('an IPv4 client is logged, matched and forwarded by its IPv4 address, never as ::ffff:', async () => {
    const six = await sidecar.waitForLine((l) => l.type === 'request' && l.uri === '/six');
    const four = await sidecar.waitForLine((l) => l.type === 'request' && l.uri === '/four');
    expect(six).toMatchObject({ clientIp: '::1', peerIp: '::1', status: 200 });
    expect(four).toMatchObject({ clientIp: '127.0.0.1', peerIp: '127.0.0.1', status: 200 });
    const forwarded = upstream.seen.map((r) => [r.url, r.headers['x-forwarded-for']]);
    expect(forwarded).toEqual(
      expect.arrayContaining([
        ['/six', '::1'],
        ['/four', '127.0.0.1'],
      ]),
    );
  });
});

describe('hostile clients of the listener on every address', () => {
  const head = (path: string, extra = '') => `POST ${path} HTTP/1.1\r\nHost: wiki.test\r\n${extra}`;
  const lineOf = (uri: string) => sidecar.waitForLine((l) => l.type === 'request' && l.uri === uri, 5_000);

  it('a head trickled over IPv6 and one over IPv4 each get 408 at the header timeout, each line with its own address', async () => {
    const six = await openRaw(sidecar.port, '::1');
    const four = await openRaw(sidecar.port, '127.0.0.1');
    six.socket.write(head('/trickle-six'));
    four.socket.write(head('/trickle-four'));
    for (let i = 0; i < 8 && !(six.isClosed() && four.isClosed()); i++) {
      await sleep(200);
      if (!six.isClosed()) six.socket.write('X');
      if (!four.isClosed()) four.socket.write('X');
    }
    await Promise.all([six.waitFor(/^HTTP\/1\.1 408/, 3_000), four.waitFor(/^HTTP\/1\.1 408/, 3_000)]);
    await Promise.all([six.closed, four.closed]);
    for (const peerIp of ['127.0.0.1', '::1'])
      expect(
        await sidecar.waitForLine((l) => l.type === 'request' && l.status === 408 && l.peerIp === peerIp),
      ).toMatchObject({ outcome: 'client_timeout', clientIp: peerIp });
  });

  it('a body cut by RST (IPv4) and one cut by FIN (IPv6): one line each, with its own address; nothing left open', async () => {
    const four = await openRaw(sidecar.port, '127.0.0.1');
    const six = await openRaw(sidecar.port, '::1');
    four.socket.write(`${head('/rst-four', 'Content-Length: 100\r\n\r\n')}half`);
    six.socket.write(`${head('/fin-six', 'Content-Length: 100\r\n\r\n')}half`);
    await sleep(100);
    four.socket.resetAndDestroy();
    six.socket.end();
    const [rst, fin] = await Promise.all([lineOf('/rst-four'), lineOf('/fin-six')]);
    expect(rst).toMatchObject({ peerIp: '127.0.0.1', clientIp: '127.0.0.1', outcome: 'client_abort' });
    expect(fin).toMatchObject({ peerIp: '::1', clientIp: '::1' });
    await six.closed;
    expect(sidecar.lines.filter((l) => l.uri === '/rst-four' || l.uri === '/fin-six')).toHaveLength(2);
  });
});

describe('hostile clients of the listener on every address, mid-upgrade and at shutdown', () => {
  it('over IPv6: a handshake reset before the application\u2019s 101, and a tunnel reset mid-stream, one line each; the sidecar serves on', async () => {
    const early = await openRaw(sidecar.port, '::1');
    early.socket.write(upgradeRequest('/ws-early', 'wiki.test'));
    await sleep(100);
    early.socket.resetAndDestroy();
    const tunnel = await openRaw(sidecar.port, '::1');
    tunnel.socket.write(upgradeRequest('/ws-open', 'wiki.test'));
    await tunnel.waitFor(/^HTTP\/1\.1 101/, 3_000);
    tunnel.socket.write('ping');
    await tunnel.waitFor(/ping$/, 3_000);
    tunnel.socket.resetAndDestroy();
    const [aborted, upgraded] = await Promise.all([
      sidecar.waitForLine((l) => l.type === 'request' && l.uri === '/ws-early', 5_000),
      sidecar.waitForLine((l) => l.type === 'request' && l.uri === '/ws-open', 5_000),
    ]);
    expect(aborted).toMatchObject({ peerIp: '::1', status: 499, outcome: 'client_abort' });
    expect(upgraded).toMatchObject({ peerIp: '::1', status: 101 });
    expect(sidecar.lines.filter((l) => l.uri === '/ws-early' || l.uri === '/ws-open')).toHaveLength(2);
    expect(await get('::1', sidecar.port, '/after-tunnels')).toBe(200);
  });

  it('at shutdown: an idle keep-alive client, a silent head and a trickled body over IPv6 are closed, and the sidecar exits within its grace', async () => {
    const dir = writeConfigDir(
      applicationYaml({ hosts: ['wiki.test'], upstream: { url: upstream.url } }, 'wiki'),
    );
    const stopping = await startSidecarProcess(dir, [...injectedListenArgs(), '--shutdown-grace=3s']);
    const idle = await openRaw(stopping.port, '::1');
    idle.socket.write('GET /kept HTTP/1.1\r\nHost: wiki.test\r\n\r\n');
    await idle.waitFor(/app saw \/kept/, 3_000);
    const silent = await openRaw(stopping.port, '::1');
    silent.socket.write('GET /sil');
    const trickle = await openRaw(stopping.port, '::1');
    trickle.socket.write('POST /trickle HTTP/1.1\r\nHost: wiki.test\r\nContent-Length: 1000\r\n\r\n');
    const drip = setInterval(() => trickle.socket.writable && trickle.socket.write('x'), 100);
    await sleep(200);
    const started = performance.now();
    try {
      expect(await stopping.stop()).toBe(0);
    } finally {
      clearInterval(drip);
    }
    expect(performance.now() - started).toBeLessThan(4_500);
    await Promise.all([idle.closed, silent.closed, trickle.closed]);
    expect(stopping.lines.filter((l) => l.type === 'request' && l.uri === '/trickle')).toHaveLength(1);
  });
});
