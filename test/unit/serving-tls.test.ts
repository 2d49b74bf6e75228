import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createServingCertificate,
  hostsOf,
  normalizeHost,
  splitPemBundle,
} from '../../operator/src/tls/certificates.ts';
import { oid, time, unsignedInteger } from '../../operator/src/tls/der.ts';
import {
  caRenewBeforeMs,
  planServingTls,
  type ServingTlsData,
  type ServingTlsSettings,
  TLS_SECRET_KEYS,
  validateServingTlsSettings,
} from '../../operator/src/tls/serving-tls-plan.ts';

const DAY = 24 * 3600_000;
const T0 = new Date('2026-11-21T00:00:00Z');

describe('DER encoding', () => {
  it.each([
    ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'],
    ['2.5.29.17', '0603551d11'],
    ['1.3.6.1.5.5.7.3.1', '06082b06010505070301'],
  ])('OID %s', (dotted, hex) => expect(oid(dotted).toString('hex')).toBe(hex));

  it.each([
    ['00', '020100'],
    ['7f', '02017f'],
    ['80', '02020080'],
    ['000001', '020101'],
  ])('unsigned INTEGER %s', (bytes, hex) =>
    expect(unsignedInteger(Buffer.from(bytes, 'hex')).toString('hex')).toBe(hex),
  );

  it('writes UTCTime through 2049 and GeneralizedTime from 2050', () => {
    expect(time(new Date('2049-12-31T23:59:59Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
  });
});

describe('certificates', () => {
  const ca = createCertificateAuthority('test-ca', T0, 365 * DAY);
  const hosts = ['gatehouse-operator.gatehouse-system.svc', '127.0.0.1', '::1'];
  const serving = createServingCertificate(ca, hosts, T0, 90 * DAY);
  const caCert = new X509Certificate(ca.cert);
  const cert = new X509Certificate(serving.cert);

  it('issues a CA that signs only end-entity certificates', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
  });

  it('issues a serving certificate the CA verifies, for exactly the hosts asked', () => {
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost('gatehouse-operator.gatehouse-system.svc')).toBeDefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('evil.example')).toBeUndefined();
    expect(hostsOf(cert)).toEqual(hosts.map(normalizeHost));
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  it('starts five minutes early and never outlives its CA', () => {
    expect(new Date(cert.validFrom).getTime()).toBe(T0.getTime() - 5 * 60_000);
    const long = new X509Certificate(createServingCertificate(ca, hosts, T0, 10 * 365 * DAY).cert);
    expect(long.validTo).toBe(caCert.validTo);
  });

  it('passes openssl verify as a TLS server certificate, with strict DER', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-x509-'));
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'cert.pem'), serving.cert);
    const verify = execFileSync(
      'openssl',
      [
        'verify',
        '-CAfile',
        join(dir, 'ca.pem'),
        '-purpose',
        'sslserver',
        '-attime',
        String(T0.getTime() / 1000 + 60),
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(verify.trim()).toBe(`${join(dir, 'cert.pem')}: OK`);
    execFileSync('openssl', ['asn1parse', '-strictpem', '-in', join(dir, 'cert.pem')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true });
  });

  it('refuses a certificate without hosts', () => {
    expect(() => createServingCertificate(ca, [], T0, DAY)).toThrow(/at least one host/);
  });
});

describe('serving TLS plan', () => {
  const settings: ServingTlsSettings = {
    hosts: ['op.ns.svc', '127.0.0.1'],
    caValidityMs: 1000 * DAY,
    certValidityMs: 90 * DAY,
    certRenewBeforeMs: 30 * DAY,
  };
  const at = (days: number): Date => new Date(T0.getTime() + days * DAY);
  const first = planServingTls(undefined, settings, T0);

  it('creates a CA and a certificate when there is nothing', () => {
    expect(first.changes).toEqual(['ca_created', 'cert_issued']);
    expect(splitPemBundle(first.data[TLS_SECRET_KEYS.bundle] ?? '')).toHaveLength(1);
    expect(first.nextCheckAt).toEqual(at(60));
  });

  it.each<[string, (d: ServingTlsData) => ServingTlsData, number, string[]]>([
    ['keeps a current Secret as it is', (d) => d, 10, []],
    ['renews the certificate inside its window', (d) => d, 61, ['cert_renewed']],
    ['reissues when a host is added', (d) => d, 10, ['cert_hosts_changed']],
    [
      'reissues when the key does not match the certificate',
      (d) => ({ ...d, [TLS_SECRET_KEYS.key]: planServingTls(undefined, settings, T0).data['tls.key'] }),
      10,
      ['cert_issued'],
    ],
    [
      'starts over from a corrupt CA',
      (d) => ({ ...d, [TLS_SECRET_KEYS.caCert]: 'garbage' }),
      10,
      ['ca_created', 'cert_signer_changed'],
    ],
    ['rotates the CA with a fifth of its life left', (d) => d, 800, ['ca_rotated', 'cert_renewed']],
  ])('%s', (what, edit, days, changes) => {
    const hostsChanged = what.includes('host is added');
    const plan = planServingTls(
      edit(first.data),
      hostsChanged ? { ...settings, hosts: [...settings.hosts, 'extra.example'] } : settings,
      at(days),
    );
    expect(plan.changes).toEqual(changes);
    if (changes.length === 0) expect(plan.data).toBe(first.data);
  });

  it('after a CA rotation, trusts both CAs and keeps signing with the previous one until it nears its end', () => {
    const rotated = planServingTls(first.data, settings, at(800));
    const bundle = splitPemBundle(rotated.data[TLS_SECRET_KEYS.bundle] ?? '');
    expect(bundle).toHaveLength(2);
    const previous = new X509Certificate(first.data[TLS_SECRET_KEYS.caCert] ?? '');
    const cert = new X509Certificate(rotated.data[TLS_SECRET_KEYS.cert] ?? '');
    expect(cert.checkIssued(previous)).toBe(true);
    // 90 days before the previous CA ends, the certificate moves to the new CA.
    const switched = planServingTls(rotated.data, settings, at(911));
    expect(switched.changes).toEqual(['cert_signer_changed']);
    const newest = new X509Certificate(switched.data[TLS_SECRET_KEYS.caCert] ?? '');
    expect(new X509Certificate(switched.data[TLS_SECRET_KEYS.cert] ?? '').checkIssued(newest)).toBe(true);
    // Once the previous CA has expired it leaves the bundle.
    const dropped = planServingTls(switched.data, settings, at(1001));
    expect(dropped.changes).toContain('previous_ca_dropped');
    expect(splitPemBundle(dropped.data[TLS_SECRET_KEYS.bundle] ?? '')).toHaveLength(1);
  });

  it('over 3,000 days, the served certificate is always valid and signed by a CA in the bundle', () => {
    let data: ServingTlsData | undefined;
    let writes = 0;
    let day = 0;
    while (day < 3000) {
      const now = at(day);
      const plan = planServingTls(data, settings, now);
      if (plan.changes.length > 0) writes++;
      data = plan.data;
      const cert = new X509Certificate(data[TLS_SECRET_KEYS.cert] ?? '');
      const bundle = splitPemBundle(data[TLS_SECRET_KEYS.bundle] ?? '').map((p) => new X509Certificate(p));
      expect(new Date(cert.validTo).getTime() - now.getTime()).toBeGreaterThan(settings.certRenewBeforeMs);
      expect(bundle.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))).toBe(true);
      expect(bundle.every((ca) => new Date(ca.validTo).getTime() > now.getTime())).toBe(true);
      const next = (plan.nextCheckAt.getTime() - T0.getTime()) / DAY;
      expect(next).toBeGreaterThan(day);
      day = Math.min(Math.ceil(next), day + 45);
    }
    // about one certificate per 60 days and one CA per 800 days
    expect(writes).toBeGreaterThan(45);
    expect(writes).toBeLessThan(60);
  });

  it.each<[string, Partial<ServingTlsSettings>, RegExp]>([
    ['no hosts', { hosts: [] }, /at least one host/],
    ['renewal window as long as the validity', { certRenewBeforeMs: 90 * DAY }, /shorter than its validity/],
    ['a CA too short for its certificates', { caValidityMs: 500 * DAY }, /CA validity/],
  ])('refuses settings with %s', (_what, change, message) => {
    expect(validateServingTlsSettings({ ...settings, ...change }).join('; ')).toMatch(message);
  });

  it('renews the CA at a fifth of its life', () => {
    expect(caRenewBeforeMs(settings)).toBe(200 * DAY);
  });
});
