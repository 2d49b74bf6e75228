import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execCredentials, parseExecCredential, parseExecPlugin } from '../../lib/kube/exec-credential.ts';
import { KubeconfigError } from '../../lib/kube/kube-errors.ts';
import { writeExecPlugin } from '../helpers/exec-plugin.ts';

// Kubeconfig credential plugins: their stanza checked at load, their output checked, and their
// credential cached until shortly before it expires.

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-exec-unit-'));
const cluster = { server: 'https://127.0.0.1:6443', insecureSkipTlsVerify: false };
const V1 = 'client.authentication.k8s.io/v1';

describe('parseExecPlugin', () => {
  it.each([
    [
      'v1 without interactiveMode',
      { apiVersion: V1, command: 'aws' },
      /interactiveMode must be one of .* \(required/,
    ],
    ['no command', { apiVersion: V1, interactiveMode: 'Never' }, /command is required/],
    [
      'v1alpha1',
      { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' },
      /removed in Kubernetes 1\.24/,
    ],
    ['an unknown apiVersion', { apiVersion: 'v2', command: 'x' }, /apiVersion must be one of/],
    [
      'env not name/value',
      { apiVersion: V1, command: 'x', interactiveMode: 'Never', env: [{ name: 'A' }] },
      /env must be a list/,
    ],
  ])('refuses %s', (_, exec, message) => {
    expect(() => parseExecPlugin(exec, 'kc: user u', '/home/me/.kube')).toThrow(message);
    expect(() => parseExecPlugin(exec, 'kc: user u', '/home/me/.kube')).toThrow(KubeconfigError);
  });

  it('defaults v1beta1 to IfAvailable and resolves a relative command against the kubeconfig folder', () => {
    const plugin = parseExecPlugin(
      {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: './bin/get-token',
        env: [{ name: 'AWS_PROFILE', value: 'corp' }],
      },
      'kc',
      '/home/me/.kube',
    );
    expect(plugin).toMatchObject({
      interactiveMode: 'IfAvailable',
      command: '/home/me/.kube/bin/get-token',
      env: { AWS_PROFILE: 'corp' },
    });
    // A bare name is looked up on PATH, as kubectl does.
    expect(
      parseExecPlugin({ apiVersion: V1, command: 'aws', interactiveMode: 'Never' }, 'kc', '/x').command,
    ).toBe('aws');
  });
});

describe('parseExecCredential', () => {
  const plugin = parseExecPlugin({ apiVersion: V1, command: 'p', interactiveMode: 'Never' }, 'kc', '/');
  it.each([
    ['not JSON', 'oops', /output is not JSON/],
    [
      'another apiVersion',
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        kind: 'ExecCredential',
        status: { token: 't' },
      }),
      /not an ExecCredential of client.authentication.k8s.io\/v1/,
    ],
    [
      'no credential',
      JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: {} }),
      /neither a token nor/,
    ],
    [
      'a bad expiry',
      JSON.stringify({
        apiVersion: V1,
        kind: 'ExecCredential',
        status: { token: 't', expirationTimestamp: 'soon' },
      }),
      /not a time/,
    ],
  ])('refuses %s', (_, out, message) => {
    expect(() => parseExecCredential(out, plugin, 'kc')).toThrow(message);
  });

  it('reads a client certificate and key', () => {
    const out = JSON.stringify({
      apiVersion: V1,
      kind: 'ExecCredential',
      status: {
        clientCertificateData: 'CERT',
        clientKeyData: 'KEY',
        expirationTimestamp: '2030-01-01T00:00:00Z',
      },
    });
    expect(parseExecCredential(out, plugin, 'kc')).toEqual({
      cert: 'CERT',
      key: 'KEY',
      expiresAt: Date.parse('2030-01-01T00:00:00Z'),
    });
  });
});

describe('execCredentials', () => {
  it('runs the plugin once while its credential is valid, and again when it is about to expire', () => {
    const lasting = writeExecPlugin(dir, 'lasting', { token: 'a', expiresInSeconds: 3600 });
    const current = execCredentials(parseExecPlugin(lasting.exec, 'kc', dir), cluster, 'kc');
    expect([current().token, current().token, current().token]).toEqual(['a', 'a', 'a']);
    expect(lasting.runs()).toHaveLength(1);
    // Expiring within the 10 s margin: every use runs it again.
    const expiring = writeExecPlugin(dir, 'expiring', { token: 'b', expiresInSeconds: 5 });
    const again = execCredentials(parseExecPlugin(expiring.exec, 'kc', dir), cluster, 'kc');
    again();
    again();
    expect(expiring.runs()).toHaveLength(2);
    // No expiry: for the life of the process.
    const forever = writeExecPlugin(dir, 'forever', { token: 'c' });
    const once = execCredentials(parseExecPlugin(forever.exec, 'kc', dir), cluster, 'kc');
    once();
    once();
    expect(forever.runs()).toHaveLength(1);
  });

  it('refuses interactiveMode Always without a terminal, before running the plugin', () => {
    const plugin = writeExecPlugin(dir, 'always', { token: 'x', extra: { interactiveMode: 'Always' } });
    const current = execCredentials(parseExecPlugin(plugin.exec, 'kc', dir), cluster, 'kc');
    expect(() => current()).toThrow(/needs a terminal \(interactiveMode: Always\)/);
    expect(plugin.runs()).toHaveLength(0);
  });
});
