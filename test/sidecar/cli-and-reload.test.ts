import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applicationYaml,
  loopbackAppDir,
  runGatehouse,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('gatehouse sidecar --config', () => {
  it('refuses an invalid config at start with every error and its path, exit 1', async () => {
    const dir = writeConfigDir(
      applicationYaml({
        hosts: [],
        upstream: { url: 'ftp://x', timeouts: { connect: 'later' } },
        trustedProxies: ['300.1.1.1'],
        bogus: true,
      }),
    );
    const { code, stderr, stdout } = await runGatehouse([
      'sidecar',
      '--config',
      dir,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('configuration is invalid');
    // The spec is one line of flow YAML (line 5): each error says where on it.
    expect(stderr).toMatch(/app\.yaml:5:\d+ spec\.bogus: unknown field \(known here: hosts, upstream, /);
    expect(stderr).toMatch(/app\.yaml:5:\d+ spec\.hosts: must not have fewer than 1 items/);
    expect(stderr).toMatch(
      /app\.yaml:5:\d+ spec\.upstream\.url: must be an http:\/\/ or https:\/\/ URL \(got "ftp:\/\/x"\)/,
    );
    expect(stderr).toMatch(
      /app\.yaml:5:\d+ spec\.upstream\.timeouts\.connect: must be a duration such as 500ms, 30s, 5m or 1h30m \(got "later"\)/,
    );
  });

  it('validate reports every problem in one pass, at its line and column, in file order, with what was meant', async () => {
    const dir = writeConfigDir(
      [
        'apiVersion: gatehouse.dev/v1alpha1',
        'kind: AccessApplication',
        'metadata:',
        '  name: wiki',
        'spec:',
        '  hosts: [wiki.example.com]',
        '  upstream:',
        '    url: http://127.0.0.1:8080',
        '    timeouts: {connect: soon}',
        '  policies: [{name: staff}, {name: contractors}, {name: broken}]',
        '  authentication:',
        '    externalUrl: https://wiki.example.com',
        '    identityProviders:',
        '      - name: corp',
        '        issuer: https://login.example.com',
        '        clientId: wiki',
        '        clientSecretRef: {name: sso, key: client-secret}',
        '---',
        'apiVersion: gatehouse.dev/v1alpha1',
        'kind: AccessPolicy',
        'metadata:',
        '  name: broken',
        'spec:',
        '  decison: allow',
        '  include: [{everyone: true}]',
        '',
      ].join('\n'),
    );
    const { code, stderr } = await runGatehouse(['validate', dir]);
    expect(code).toBe(1);
    // Schema errors and the references of the application that failed its schema, together; the
    // policy that failed its own schema is not also called missing.
    expect(stderr).toBe(
      [
        'gatehouse: configuration is invalid (6 errors):',
        '  app.yaml:9:16 spec.upstream.timeouts.connect: must be a duration such as 500ms, 30s, 5m or 1h30m (got "soon")',
        '  app.yaml:10:15 spec.policies[0].name: no AccessPolicy named "staff"',
        '  app.yaml:10:30 spec.policies[1].name: no AccessPolicy named "contractors"',
        '  app.yaml:17:27 spec.authentication.identityProviders[0].clientSecretRef.name: no Secret named sso',
        '  app.yaml:23:1 spec.decision: is required',
        '  app.yaml:24:3 spec.decison: unknown field; did you mean decision?',
        'A Secret that the cluster holds and these files do not (sealed, or made by another operator): give --secrets-in-cluster',
        '',
      ].join('\n'),
    );
  });

  it('exits 2 with usage on a bad flag, and validate prints the rendered config', async () => {
    const bad = await runGatehouse(['sidecar', '--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage: gatehouse sidecar');
    const dir = writeConfigDir(
      applicationYaml({ hosts: ['a.test'], upstream: { url: 'http://127.0.0.1:1' } }),
    );
    const ok = await runGatehouse(['validate', dir]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ format: 1, hosts: ['a.test'] });
  });

  it('hot-reloads: an invalid change keeps the last good config serving; a valid one is applied', async () => {
    const a: TestUpstream = await startUpstream((_req, res) => res.end('A'));
    const b: TestUpstream = await startUpstream((_req, res) => res.end('B'));
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const dir = loopbackAppDir(a.url);
    const proc: SidecarProcess = await startSidecarProcess(dir);
    cleanups.push(() => proc.stop());
    const get = async () => {
      const res = await request(`http://127.0.0.1:${proc.port}/`);
      return { status: res.statusCode, body: await res.body.text() };
    };
    expect(await get()).toEqual({ status: 200, body: 'A' });
    const loaded = proc.lines.find((l) => l.type === 'config_loaded');
    expect(loaded).toMatchObject({ app: 'proc-app', source: 'file', policies: 1, auditPolicies: 0 });
    const first = loaded?.generation;

    writeFileSync(
      join(dir, 'app.yaml'),
      applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: b.url, maxConnections: -1 } }),
    );
    const rejected = await proc.waitForLine((l) => l.type === 'config_rejected');
    expect(rejected.keptGeneration).toBe(first);
    expect(rejected.errors).toEqual([
      expect.stringMatching(/^app\.yaml:5:\d+ spec\.upstream\.maxConnections: must be >= 1$/),
    ]);
    expect(await get()).toEqual({ status: 200, body: 'A' });
    const ready = await request(`http://127.0.0.1:${proc.adminPort}/readyz`);
    expect(ready.statusCode).toBe(200);
    await ready.body.text();

    writeFileSync(join(dir, 'app.yaml'), applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: b.url } }));
    await proc.waitForLine((l) => l.type === 'config_loaded' && l.generation !== first);
    expect(await get()).toEqual({ status: 200, body: 'B' });

    const metrics = await request(`http://127.0.0.1:${proc.adminPort}/metrics`);
    const text = await metrics.body.text();
    expect(text).toContain('gatehouse_config_reloads_total{result="rejected"} 1');
    expect(text).toContain('gatehouse_config_reloads_total{result="applied"} 1');
    expect(text).toMatch(/gatehouse_requests_total\{app="proc-app",decision="bypass",status_class="2xx"\} 3/);
    expect(text).toContain('gatehouse_request_duration_seconds_bucket');
    expect(text).toContain('gatehouse_upstream_duration_seconds_bucket');
    expect(text).toContain('gatehouse_requests_in_flight');
    expect(text).toMatch(/gatehouse_config_info\{app="proc-app",generation="[0-9a-f]{16}"\} 1/);

    expect(await proc.stop()).toBe(0);
    expect(proc.lines.at(-1)?.type).toBe('sidecar_stopped');
  });
});
