import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configSecrets, redactedConfig, type SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { ConfigError } from '../../contract/errors.ts';
import { createCertificateAuthority } from '../../operator/src/tls/certificates.ts';
import { configFromSnapshot } from '../../sidecar/src/config/load-application.ts';
import { clientCertificate } from '../helpers/tls.ts';

// spec.upstream.tls, as the sidecar loads it from files (the operator renders it the same way):
// what an https upstream's certificate is checked against, and every way it can be wrong.

const authority = createCertificateAuthority('wiki internal CA', new Date(), 86_400_000);
const CA = authority.cert;
const CA_KEY = authority.key;

function load(upstream: string, secret?: Record<string, string>, secretName = 'wiki-ca') {
  const files: Record<string, string> = {
    '/x/app.yaml': `apiVersion: gatehouse.dev/v1alpha1
kind: AccessApplication
metadata: {name: app}
spec:
  hosts: [app.example.com]
  upstream: ${upstream}
`,
  };
  if (secret)
    files['/x/secret.yaml'] =
      `apiVersion: v1\nkind: Secret\nmetadata: {name: ${secretName}}\nstringData: ${JSON.stringify(secret)}\n`;
  try {
    return { config: configFromSnapshot({ files: new Map(Object.entries(files)) }), errors: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { config: undefined, errors: error.errors.map((e) => `${e.path}: ${e.message}`) };
  }
}

describe('spec.upstream.tls', () => {
  it.each([
    ['http: nothing to check', "{url: 'http://wiki.internal:8080'}", undefined, undefined],
    [
      'https without tls: the public CAs, for the host of url',
      "{url: 'https://wiki.internal:8443'}",
      undefined,
      { ca: null, serverName: 'wiki.internal' },
    ],
    [
      'another name to check',
      "{url: 'https://127.0.0.1:8443', tls: {serverName: wiki.internal}}",
      undefined,
      { ca: null, serverName: 'wiki.internal' },
    ],
    ['an IPv6 host', "{url: 'https://[::1]:8443'}", undefined, { ca: null, serverName: '::1' }],
    [
      'a CA from a Secret',
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: ca.crt}}}",
      { 'ca.crt': CA },
      { ca: CA, serverName: 'wiki.internal' },
    ],
  ])('%s', (_case, upstream, secret, tls) => {
    const { config, errors } = load(upstream, secret);
    expect(errors).toEqual([]);
    expect(config?.upstream.tls).toEqual(tls);
  });

  it('takes only the certificates of a key that holds a private key beside them: no key in any config', () => {
    const { config, errors } = load(
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: tls.pem}}}",
      { 'tls.pem': `${CA_KEY}${CA}` },
    );
    expect(errors).toEqual([]);
    expect(config?.upstream.tls?.ca).toBe(CA);
    expect(JSON.stringify(config)).not.toContain('PRIVATE KEY');
  });

  it.each([
    [
      'tls on an http url',
      "{url: 'http://wiki.internal', tls: {serverName: wiki.internal}}",
      undefined,
      'app.yaml#1 spec.upstream.tls: tls is for an https url',
    ],
    [
      'no such Secret',
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: ca.crt}}}",
      undefined,
      'spec.upstream.tls.caSecretRef.name: no Secret named wiki-ca',
    ],
    [
      'no such key',
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: ca.crt}}}",
      { 'tls.crt': CA },
      'spec.upstream.tls.caSecretRef.key: Secret wiki-ca has no key ca.crt',
    ],
    [
      'a key without a certificate',
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: ca.crt}}}",
      { 'ca.crt': 'not a certificate' },
      'Secret wiki-ca key ca.crt holds no PEM certificate',
    ],
    [
      'a certificate that does not parse',
      "{url: 'https://wiki.internal', tls: {caSecretRef: {name: wiki-ca, key: ca.crt}}}",
      { 'ca.crt': `${CA}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n` },
      'certificate 2 of 2 does not parse',
    ],
    [
      'a server name that is not a DNS name',
      "{url: 'https://wiki.internal', tls: {serverName: 'Wiki_Internal'}}",
      undefined,
      'spec.upstream.tls.serverName',
    ],
  ])('refused: %s', (_case, upstream, secret, message) => {
    const { config, errors } = load(upstream, secret);
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toContain(message);
  });
});

describe('spec.upstream.tls.clientCertificateSecretRef (mutual TLS)', () => {
  const client = clientCertificate('gatehouse-wiki');
  const other = clientCertificate('someone-else');
  const URL = "{url: 'https://wiki.internal', tls: {clientCertificateSecretRef: {name: wiki-client}}}";
  const loadClient = (secret?: Record<string, string>) => load(URL, secret, 'wiki-client');

  it('takes the certificate with its chain, and the key in PKCS #8 whatever form it came in', () => {
    const { config, errors } = loadClient({ 'tls.crt': client.chain, 'tls.key': client.key });
    expect(errors).toEqual([]);
    const presented = config?.upstream.tls?.clientCertificate;
    expect(presented?.certificates).toBe(client.chain);
    expect(client.key).toContain('BEGIN EC PRIVATE KEY');
    expect(presented?.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(createPrivateKey(presented?.key as string).equals(createPrivateKey(client.key))).toBe(true);
    // The key is a secret: redacted when printed, and replaced wherever an error quotes it.
    const printed = JSON.stringify(redactedConfig(config as SidecarConfig));
    expect(printed).not.toContain('PRIVATE KEY');
    expect(printed).toContain('"key":"[REDACTED]"');
    expect(configSecrets(config as SidecarConfig)).toContain(presented?.key);
  });

  it.each([
    ['no such Secret', undefined, 'clientCertificateSecretRef.name: no Secret named wiki-client'],
    ['no key', { 'tls.crt': client.cert }, 'Secret wiki-client has no key tls.key'],
    [
      'neither',
      { 'ca.crt': client.ca },
      'Secret wiki-client has no key tls.crt; Secret wiki-client has no key tls.key',
    ],
    [
      'no certificate',
      { 'tls.crt': 'none', 'tls.key': client.key },
      'Secret wiki-client key tls.crt holds no PEM certificate',
    ],
    [
      'a key that does not parse',
      { 'tls.crt': client.cert, 'tls.key': 'junk' },
      'Secret wiki-client key tls.key holds no private key that parses',
    ],
    [
      'the key of another certificate',
      { 'tls.crt': client.cert, 'tls.key': other.key },
      'the key of tls.key is not the key of the first certificate of tls.crt',
    ],
    [
      'the chain first, then the certificate',
      { 'tls.crt': `${client.ca}${client.cert}`, 'tls.key': client.key },
      'the key of tls.key is not the key of the first certificate of tls.crt',
    ],
  ])('refused: %s', (_case, secret, message) => {
    const { config, errors } = loadClient(secret);
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toContain(message);
    expect(errors.join('\n')).not.toContain('PRIVATE KEY');
  });
});
