import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConnection } from '../../lib/kube/connection.ts';
import { KubeconfigError } from '../../lib/kube/kube-errors.ts';

// `gatehouse revoke` and `gatehouse audit --cluster` on a machine without a kubeconfig printed
// "ENOENT: no such file or directory, open '/root/.kube/config'": the raw error of the read, with
// nothing of what to do. Each way a kubeconfig cannot be read now says where its path came from
// and what to do, in one line, with a stable code.

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG };
afterEach(() => {
  for (const [name, value] of Object.entries(saved))
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
});

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** The error loadConnection throws for these options, as `code: message`. */
function refusal(options: Parameters<typeof loadConnection>[0]): string {
  try {
    loadConnection(options);
  } catch (error) {
    if (error instanceof KubeconfigError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error('loaded');
}

const context = (cluster: string) =>
  `apiVersion: v1\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: ${cluster}}]\nusers: [{name: u, user: {token: t}}]\n`;

describe('a kubeconfig that cannot be used: where it came from and what to do', () => {
  it('none at all: the default path, KUBECONFIG or --kubeconfig named as where it came from', () => {
    process.env.HOME = join(dir, 'home');
    delete process.env.KUBECONFIG;
    const hint =
      'give --kubeconfig <file> or set KUBECONFIG as for kubectl (inside a pod, its ServiceAccount is used)';
    expect(refusal({})).toBe(
      `kubeconfig_invalid: no kubeconfig at ${join(dir, 'home/.kube/config')} (kubectl's default): ${hint}`,
    );
    process.env.KUBECONFIG = join(dir, 'missing');
    expect(refusal({})).toBe(
      `kubeconfig_invalid: no kubeconfig at ${join(dir, 'missing')} (KUBECONFIG): ${hint}`,
    );
    expect(refusal({ kubeconfig: join(dir, 'other') })).toBe(
      `kubeconfig_invalid: no kubeconfig at ${join(dir, 'other')} (--kubeconfig): ${hint}`,
    );
  });

  it('not YAML, not a mapping, a directory, a certificate file that is not there', () => {
    const notYaml = write('not-yaml', 'a: [1\n');
    expect(refusal({ kubeconfig: notYaml })).toMatch(
      new RegExp(`^kubeconfig_invalid: ${notYaml}: is not YAML \\(.+\\)$`),
    );
    const text = write('passwd', 'root:x:0:0:root:/root:/bin/bash\n');
    expect(refusal({ kubeconfig: text })).toBe(
      `kubeconfig_invalid: ${text}: is not a kubeconfig (a YAML mapping of clusters, contexts and users)`,
    );
    expect(refusal({ kubeconfig: dir })).toBe(
      `kubeconfig_invalid: ${dir} (--kubeconfig): cannot be read (illegal operation on a directory)`,
    );
    const ca = write('ca.kc', context('{server: "https://127.0.0.1:1", certificate-authority: ca.pem}'));
    expect(refusal({ kubeconfig: ca })).toBe(
      `kubeconfig_invalid: ${ca}: context c: ${join(dir, 'ca.pem')} cannot be read (no such file or directory)`,
    );
  });

  it('a readable one still loads, its relative certificate files read beside it', () => {
    write('good-ca.pem', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const kubeconfig = write(
      'good.kc',
      context('{server: "https://127.0.0.1:1", certificate-authority: good-ca.pem}'),
    );
    expect(loadConnection({ kubeconfig }).server).toBe('https://127.0.0.1:1');
  });
});
