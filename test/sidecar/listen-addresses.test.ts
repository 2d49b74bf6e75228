import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InjectionContext, injectPod } from '../../operator/src/injection/inject-pod.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import type { ContainerLike } from '../../operator/src/injection/pod-shape.ts';
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
  const args = (result.pod.spec?.initContainers?.[0] as ContainerLike).args as string[];
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
  upstream = await startUpstream();
  const dir = writeConfigDir(
    `${applicationYaml({ hosts: ['wiki.test'], upstream: { url: upstream.url }, policies: [{ name: 'loopback' }] }, 'wiki')}---\n${policyYaml(
      'loopback',
      { decision: 'bypass', include: [{ ipRanges: ['127.0.0.0/8', '::1/128'] }] },
    )}`,
  );
  sidecar = await startSidecarProcess(dir, injectedListenArgs());
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
