import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListenError, listenOn } from '../../lib/listen.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-listen-'));
const config = join(dir, 'app.yaml');
writeFileSync(
  config,
  `apiVersion: gatehouse.dev/v1alpha1
kind: AccessApplication
metadata: {name: hello}
spec:
  hosts: [localhost]
  upstream: {url: 'http://127.0.0.1:1'}
`,
);

/** A port some other process holds, as the application's container can hold one in a pod. */
let holder: Server;
let taken: number;
beforeAll(async () => {
  holder = createServer();
  taken = (await listenOn(holder, 0, '127.0.0.1')).port;
});
afterAll(() => holder.close());

const sidecar = (listen: string, adminListen: string) =>
  runGatehouse([
    'sidecar',
    '--config',
    config,
    '--listen',
    listen,
    '--admin-listen',
    adminListen,
    '--shutdown-grace',
    '1s',
  ]);

describe('an address the sidecar or the operator cannot listen on', () => {
  it('the admin address in use: one line that names the flag and why, exit 1, no stack', async () => {
    const out = await sidecar('127.0.0.1:0', `127.0.0.1:${taken}`);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `gatehouse sidecar: cannot listen on 127.0.0.1:${taken} (--admin-listen): the address is in use: another process listens there (in a pod, another container of the pod, such as the application on the same port)\n`,
    );
  });

  it('the traffic address in use, once the config is loaded: its line is written, then the one reason', async () => {
    const out = await sidecar(`127.0.0.1:${taken}`, '127.0.0.1:0');
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^\{"type":"config_loaded",[^\n]*"app":"hello"/);
    expect(out.stderr).toBe(
      `gatehouse sidecar: cannot listen on 127.0.0.1:${taken} (--listen): the address is in use: another process listens there (in a pod, another container of the pod, such as the application on the same port)\n`,
    );
  });

  it('an address no interface has', async () => {
    const out = await sidecar('192.0.2.1:8080', '127.0.0.1:0');
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      'gatehouse sidecar: cannot listen on 192.0.2.1:8080 (--listen): no network interface here has that address\n',
    );
  });

  it('the operator likewise: its config endpoint in use', async () => {
    const kubeconfig = join(dir, 'kubeconfig.yaml');
    // An API server nobody answers for: the listen comes first and fails on its own.
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: gatehouse-system}}]
current-context: x
`,
    );
    const out = await runGatehouse([
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--listen',
      `127.0.0.1:${taken}`,
      '--admin-listen',
      '127.0.0.1:0',
    ]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `gatehouse operator: cannot listen on 127.0.0.1:${taken} (--listen): the address is in use: another process listens there (in a pod, another container of the pod, such as the application on the same port)\n`,
    );
  });

  it('an --operator-ca without a certificate, or with one that does not parse, stops the start and says which', async () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'a.b.c');
    const cases: [string, string][] = [
      ['no certificate', 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)'],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'certificate 1 of 1 does not parse'],
    ];
    for (const [text, problem] of cases) {
      const ca = join(dir, 'ca.crt');
      writeFileSync(ca, text);
      const out = await runGatehouse([
        'sidecar',
        '--operator-url',
        'https://127.0.0.1:1',
        '--operator-ca',
        ca,
        '--token-file',
        token,
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        '127.0.0.1:0',
      ]);
      expect(out.code).toBe(2);
      expect(out.stderr.split('\n')[0]).toContain(`gatehouse sidecar: --operator-ca ${ca} ${problem}`);
      expect(out.stdout).toBe('');
    }
  });

  it('a code without its own words keeps the system message', () => {
    const error = new ListenError('0.0.0.0:80', undefined, 'EMFILE', 'listen EMFILE: too many open files');
    expect(error.message).toBe('cannot listen on 0.0.0.0:80: listen EMFILE: too many open files');
    expect(error.code).toBe('listen_failed');
  });
});
