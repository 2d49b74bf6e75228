import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseValidateFlags } from '../../sidecar/src/cli/validate-command.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-validate-secrets-'));

/** An application whose client secret and upstream CA live in Secrets; `held` are the Secrets the file holds. */
function applicationFile(name: string, held: Record<string, Record<string, string>>): string {
  const file = join(dir, name);
  const application = {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name: 'wiki', namespace: 'corp' },
    spec: {
      hosts: ['wiki.example.com'],
      upstream: {
        url: 'https://wiki.corp.svc:8443',
        tls: {
          caSecretRef: { name: 'wiki-ca', key: 'ca.crt' },
          clientCertificateSecretRef: { name: 'wiki-client' },
        },
      },
      authentication: {
        externalUrl: 'https://wiki.example.com',
        identityProviders: [
          {
            name: 'corp',
            issuer: 'https://idp.example.com',
            clientId: 'wiki',
            clientSecretRef: { name: 'wiki-oidc', key: 'secret' },
          },
        ],
      },
    },
  };
  const secrets = Object.entries(held).map(([secret, stringData]) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secret, namespace: 'corp' },
    stringData,
  }));
  writeFileSync(file, [application, ...secrets].map((d) => stringify(d)).join('---\n'));
  return file;
}

describe('gatehouse validate --secrets-in-cluster', () => {
  it('parses the flag; off by default', () => {
    expect(parseValidateFlags(['app.yaml']).secretsInCluster).toBe(false);
    expect(parseValidateFlags(['app.yaml', '--secrets-in-cluster']).secretsInCluster).toBe(true);
  });

  it('without it, a Secret the files do not hold is an error, with the flag as a hint', async () => {
    const out = await runGatehouse(['validate', applicationFile('none.yaml', {})]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('clientSecretRef.name: no Secret named wiki-oidc');
    expect(out.stderr).toContain('caSecretRef.name: no Secret named wiki-ca');
    expect(out.stderr).toContain('clientCertificateSecretRef.name: no Secret named wiki-client');
    expect(out.stderr).toContain('give --secrets-in-cluster');
  });

  it('with it, they are taken to be in the cluster: named, redacted, no CA in the config', async () => {
    const out = await runGatehouse(['validate', applicationFile('none.yaml', {}), '--secrets-in-cluster']);
    expect(out.stderr).toBe(
      'gatehouse validate: taken to be in the cluster, not in these files: Secret wiki-oidc, Secret wiki-ca, Secret wiki-client\n',
    );
    expect(out.code).toBe(0);
    const config = JSON.parse(out.stdout);
    expect(config.auth.providers[0].clientSecret).toBe('[REDACTED]');
    expect(config.upstream.tls).toEqual({ ca: null, serverName: 'wiki.corp.svc' });
  });

  it('a Secret the files do hold is read as it is: a key missing from it is still an error', async () => {
    const out = await runGatehouse([
      'validate',
      applicationFile('held.yaml', { 'wiki-oidc': { other: 'x' } }),
      '--secrets-in-cluster',
    ]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('clientSecretRef.key: Secret wiki-oidc has no key secret');
    expect(out.stderr).toContain('not in these files: Secret wiki-ca, Secret wiki-client\n');
    expect(out.stderr).not.toContain('give --secrets-in-cluster');
  });

  it('an application that fails its schema: its references to Secrets elsewhere are not errors', async () => {
    const file = join(dir, 'invalid.yaml');
    writeFileSync(
      file,
      stringify({
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessApplication',
        metadata: { name: 'wiki' },
        spec: {
          hosts: [],
          upstream: { url: 'http://127.0.0.1:1' },
          authentication: {
            identityProviders: [
              {
                name: 'corp',
                issuer: 'https://idp.example.com',
                clientId: 'w',
                clientSecretRef: { name: 's', key: 'k' },
              },
            ],
          },
        },
      }),
    );
    const out = await runGatehouse(['validate', file, '--secrets-in-cluster']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('spec.hosts');
    expect(out.stderr).not.toContain('no Secret named');
  });
});

describe('gatehouse validate - (standard input)', () => {
  it('reads what kubectl pipes, a List included, each error at its line in stdin', async () => {
    const list = stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'gatehouse.dev/v1alpha1',
          kind: 'AccessApplication',
          metadata: { name: 'wiki', namespace: 'corp', resourceVersion: '7' },
          spec: { hosts: ['wiki.example.com'], upstream: { url: 'http://127.0.0.1:8080' } },
        },
      ],
    });
    const good = await runGatehouse(['validate', '-', '--format', 'yaml'], list);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('origin: http://127.0.0.1:8080');
    const bad = await runGatehouse(['validate', '-'], list.replace('- wiki.example.com', '- "wiki example"'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ {2}stdin:\d+:\d+ spec\.hosts\[0\]: /m);
  });

  it('nothing piped is an error that says so; more than a config file may hold too', async () => {
    const empty = await runGatehouse(['validate', '-'], '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('stdin: nothing was read');
    const huge = await runGatehouse(['validate', '-'], `# ${'x'.repeat(17 * 1024 * 1024)}\n`);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain('stdin: more than the 16 MiB a config file may hold');
  });
});

describe('gatehouse validate of files with several applications', () => {
  /** An application `name` at `name`.example.com, in front of 127.0.0.1:`port`, with one policy. */
  const application = (name: string, namespace: string, port: number, policy: string) => ({
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name, namespace },
    spec: {
      hosts: [`${name}.example.com`],
      upstream: { url: `http://127.0.0.1:${port}` },
      policies: [{ name: policy }],
    },
  });
  const apps = (wikiPolicy: string) =>
    [
      application('wiki', 'corp', 1, wikiPolicy),
      application('grafana', 'monitoring', 2, 'sre'),
      {
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessPolicy',
        metadata: { name: 'sre', namespace: 'monitoring' },
        spec: { decision: 'allow', include: [{ groups: ['sre'] }] },
      },
    ]
      .map((d) => stringify(d))
      .join('---\n');

  it('checks every one in one pass: the errors of each, not "choose one"', async () => {
    const file = join(dir, 'several-bad.yaml');
    writeFileSync(file, apps('staff'));
    const out = await runGatehouse(['validate', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('spec.policies[0].name: no AccessPolicy named "staff" in namespace corp');
    expect(out.stderr).not.toContain('choose one');
    // One of them alone, as before.
    const grafana = await runGatehouse(['validate', file, '--application', 'grafana']);
    expect(grafana.code).toBe(0);
    expect(JSON.parse(grafana.stdout).application).toEqual({ name: 'grafana', namespace: 'monitoring' });
  });

  it('valid: each rendered config under its namespace/name', async () => {
    const file = join(dir, 'several.yaml');
    writeFileSync(file, apps('sre').replace('namespace: corp', 'namespace: monitoring'));
    const out = await runGatehouse(['validate', file]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const configs = JSON.parse(out.stdout) as Record<string, { application: { name: string } }>;
    expect(Object.keys(configs)).toEqual(['monitoring/grafana', 'monitoring/wiki']);
    expect(configs['monitoring/wiki']?.application.name).toBe('wiki');
  });

  it('two applications at one external URL: the later one is an error at its field', async () => {
    const signingIn = (name: string, externalUrl: string) => ({
      ...application(name, 'corp', 1, 'sre'),
      spec: {
        ...application(name, 'corp', 1, 'sre').spec,
        hosts: ['tools.example.com'],
        policies: [],
        authentication: {
          externalUrl,
          identityProviders: [
            {
              name: 'corp',
              issuer: 'https://idp.example.com',
              clientId: name,
              clientSecretRef: { name: 'oidc', key: 'secret' },
            },
          ],
        },
      },
    });
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'oidc', namespace: 'corp' },
      stringData: { secret: 's' },
    };
    const write = (second: string) => {
      const file = join(dir, 'shared-url.yaml');
      writeFileSync(
        file,
        [signingIn('grafana', 'https://tools.example.com/grafana'), signingIn('copy', second), secret]
          .map((d) => stringify(d))
          .join('---\n'),
      );
      return file;
    };
    const out = await runGatehouse(['validate', write('https://TOOLS.example.com:443/grafana/')]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /shared-url\.yaml:\d+:\d+ spec\.authentication\.externalUrl: is also the externalUrl of AccessApplication corp\/grafana \(shared-url\.yaml#1\)/,
    );
    // Its own path of the host: valid.
    const apart = await runGatehouse(['validate', write('https://tools.example.com/wiki')]);
    expect(apart.stderr).toBe('');
    expect(apart.code).toBe(0);
  });
});

describe('gatehouse validate and explain of a repository of manifests (-R)', () => {
  /** repo/apps/<name>/app.yaml for two applications (one broken), beside what a repository holds. */
  const repository = (): string => {
    const root = mkdtempSync(join(tmpdir(), 'gatehouse-repo-'));
    const apps = join(root, 'apps');
    const write = (path: string, docs: unknown[]) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, docs.map((d) => stringify(d)).join('---\n'));
    };
    const app = (name: string, namespace: string, policies: unknown[]) => ({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name, namespace },
      spec: { hosts: [`${name}.example.com`], upstream: { url: 'http://127.0.0.1:3000' }, policies },
    });
    const open = {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'open', namespace: 'corp' },
      spec: { decision: 'bypass', include: [{ everyone: true }] },
    };
    write(join(apps, 'wiki', 'app.yaml'), [app('wiki', 'corp', [{ name: 'open' }]), open]);
    write(join(apps, 'grafana', 'app.yaml'), [app('grafana', 'monitoring', [{ name: 'gone' }])]);
    // What a repository holds besides: its .git, and a link back up (a loop if followed).
    write(join(apps, '.git', 'HEAD.yaml'), []);
    writeFileSync(join(apps, '.git', 'HEAD.yaml'), 'not: [yaml');
    symlinkSync(root, join(apps, 'grafana', 'loop'));
    return apps;
  };

  it('a directory whose files are all in subdirectories: told so, with the flag', async () => {
    const out = await runGatehouse(['validate', repository()]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /apps: no \.yaml, \.yml or \.json files found in it; 2 in its subdirectories: give --recursive \(-R\) to read them/,
    );
  });

  it('-R reads every subdirectory, names each file by its path under the directory, passes over .git and links', async () => {
    const apps = repository();
    const out = await runGatehouse(['validate', '-R', apps]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      / {2}grafana\/app\.yaml:\d+:\d+ spec\.policies\[0\]\.name: no AccessPolicy named "gone"/,
    );
    expect(out.stderr).not.toContain('HEAD.yaml');
    // The rendered config of the one asked for; explain reads the tree the same way.
    const wiki = await runGatehouse(['validate', '--recursive', apps, '--application', 'corp/wiki']);
    expect(wiki.code).toBe(0);
    expect(JSON.parse(wiki.stdout).application).toEqual({ name: 'wiki', namespace: 'corp' });
    const explained = await runGatehouse([
      'explain',
      '-R',
      apps,
      '--application',
      'corp/wiki',
      '--path',
      '/',
    ]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain('by policy corp/open');
    // A rendered config written into the tree would be read as config next time.
    const into = await runGatehouse([
      'validate',
      '-R',
      apps,
      '--application',
      'corp/wiki',
      '-o',
      join(apps, 'wiki', 'out.yaml'),
    ]);
    expect(into.code).toBe(2);
    expect(into.stderr).toContain('the sidecar would read the rendered config as config');
  });

  it('an empty tree, a missing one, and a file given with -R, as without it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gatehouse-empty-'));
    mkdirSync(join(empty, 'nothing'));
    const none = await runGatehouse(['validate', '-R', empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no .yaml, .yml or .json files found, in it or under it');
    const missing = await runGatehouse(['validate', '-R', join(empty, 'gone')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^gatehouse: configuration is invalid \(1 error\):\n {2}.*gone: no such file or directory\n$/,
    );
    const apps = repository();
    const one = await runGatehouse(['validate', '-R', join(apps, 'wiki', 'app.yaml')]);
    expect(one.code).toBe(0);
  });
});
