import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  createServingCertificate,
  hostsOf,
  type KeyPair,
  normalizeHost,
} from './certificates.ts';

/** Keys of the operator's TLS Secret. */
export const TLS_SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  previousCaCert: 'previous-ca.crt',
  previousCaKey: 'previous-ca.key',
  bundle: 'ca-bundle.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;

export type ServingTlsData = Partial<Record<(typeof TLS_SECRET_KEYS)[keyof typeof TLS_SECRET_KEYS], string>>;

export const CA_COMMON_NAME = 'gatehouse-operator-ca';

export interface ServingTlsSettings {
  /** DNS names and IP addresses of the serving certificate. */
  readonly hosts: readonly string[];
  readonly caValidityMs: number;
  readonly certValidityMs: number;
  readonly certRenewBeforeMs: number;
}

/** Why the Secret changes; empty when it stays as it is. */
export type ServingTlsChange =
  | 'ca_created'
  | 'ca_rotated'
  | 'previous_ca_dropped'
  | 'cert_issued'
  | 'cert_renewed'
  | 'cert_hosts_changed'
  | 'cert_signer_changed';

export interface ServingTlsPlan {
  readonly data: ServingTlsData;
  readonly changes: readonly ServingTlsChange[];
  /** When the plan must be made again (a renewal, a switch of signer or a CA dropping out). */
  readonly nextCheckAt: Date;
}

interface Parsed {
  readonly pair: KeyPair;
  readonly cert: X509Certificate;
  readonly notAfter: number;
}

/** A certificate with its key, when both parse and belong together; undefined otherwise. */
function parsePair(cert: string | undefined, key: string | undefined): Parsed | undefined {
  if (!cert || !key) return undefined;
  try {
    const x509 = new X509Certificate(cert);
    const publicFromKey = createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' });
    if (!x509.publicKey.export({ type: 'spki', format: 'der' }).equals(publicFromKey)) return undefined;
    return { pair: { cert, key }, cert: x509, notAfter: new Date(x509.validTo).getTime() };
  } catch {
    return undefined;
  }
}

/** The renewal window of the CA: a fifth of its life (two years of the default ten). */
export const caRenewBeforeMs = (settings: ServingTlsSettings): number => settings.caValidityMs / 5;

/** Checks that the timings cannot make the plan loop: each renewal leaves a fresh certificate out of its window. */
export function validateServingTlsSettings(settings: ServingTlsSettings): string[] {
  const problems: string[] = [];
  if (settings.hosts.length === 0) problems.push('the serving certificate needs at least one host');
  if (settings.certRenewBeforeMs >= settings.certValidityMs)
    problems.push('the certificate renewal window must be shorter than its validity');
  if (caRenewBeforeMs(settings) <= settings.certValidityMs + settings.certRenewBeforeMs)
    problems.push('the CA validity must exceed five times the certificate validity plus its renewal window');
  return problems;
}

/**
 * Decides the operator's TLS Secret from its current data: a long-lived CA (rotated when a fifth of
 * its life is left), the CA bundle clients trust, and a short-lived serving certificate (renewed
 * before expiry, or when its hosts change). After a CA rotation, both CAs are trusted and the
 * previous one keeps signing until its remaining life is shorter than one certificate validity,
 * so that pods holding only the previous CA keep verifying the operator as long as possible.
 */
export function planServingTls(
  current: ServingTlsData | undefined,
  settings: ServingTlsSettings,
  now: Date,
): ServingTlsPlan {
  const t = now.getTime();
  const changes: ServingTlsChange[] = [];
  const renewCaAt = (ca: Parsed): number => ca.notAfter - caRenewBeforeMs(settings);

  let newest = parsePair(current?.[TLS_SECRET_KEYS.caCert], current?.[TLS_SECRET_KEYS.caKey]);
  let previous = parsePair(
    current?.[TLS_SECRET_KEYS.previousCaCert],
    current?.[TLS_SECRET_KEYS.previousCaKey],
  );
  if (current?.[TLS_SECRET_KEYS.previousCaCert] && (!previous || previous.notAfter <= t)) {
    previous = undefined;
    changes.push('previous_ca_dropped');
  }
  const makeCa = (): Parsed => {
    const pair = createCertificateAuthority(CA_COMMON_NAME, now, settings.caValidityMs);
    const cert = new X509Certificate(pair.cert);
    return { pair, cert, notAfter: new Date(cert.validTo).getTime() };
  };
  if (!newest || newest.notAfter <= t || !newest.cert.ca) {
    newest = makeCa();
    changes.push('ca_created');
  } else if (t >= renewCaAt(newest)) {
    previous = newest;
    newest = makeCa();
    changes.push('ca_rotated');
  }

  const signer = previous && previous.notAfter - t > settings.certValidityMs ? previous : (newest as Parsed);
  const wanted = new Set(settings.hosts.map(normalizeHost));
  const serving = parsePair(current?.[TLS_SECRET_KEYS.cert], current?.[TLS_SECRET_KEYS.key]);
  let cert = serving;
  const reissue = (reason: ServingTlsChange): void => {
    const pair = createServingCertificate(signer.pair, settings.hosts, now, settings.certValidityMs);
    const x509 = new X509Certificate(pair.cert);
    cert = { pair, cert: x509, notAfter: new Date(x509.validTo).getTime() };
    changes.push(reason);
  };
  if (!serving) reissue('cert_issued');
  else if (!serving.cert.checkIssued(signer.cert) || !serving.cert.verify(signer.cert.publicKey))
    reissue('cert_signer_changed');
  else if (serving.notAfter - t <= settings.certRenewBeforeMs) reissue('cert_renewed');
  else {
    const have = hostsOf(serving.cert);
    if (have.length !== wanted.size || !have.every((h) => wanted.has(h))) reissue('cert_hosts_changed');
  }

  const served = cert as Parsed;
  const checks = [renewCaAt(newest), served.notAfter - settings.certRenewBeforeMs];
  if (previous) checks.push(previous.notAfter - settings.certValidityMs, previous.notAfter);
  const nextCheckAt = new Date(Math.max(t + 1_000, Math.min(...checks.filter((c) => c > t))));

  if (changes.length === 0) return { data: current ?? {}, changes, nextCheckAt };
  const data: ServingTlsData = {
    [TLS_SECRET_KEYS.caCert]: newest.pair.cert,
    [TLS_SECRET_KEYS.caKey]: newest.pair.key,
    [TLS_SECRET_KEYS.bundle]: newest.pair.cert + (previous?.pair.cert ?? ''),
    [TLS_SECRET_KEYS.cert]: served.pair.cert,
    [TLS_SECRET_KEYS.key]: served.pair.key,
    ...(previous
      ? {
          [TLS_SECRET_KEYS.previousCaCert]: previous.pair.cert,
          [TLS_SECRET_KEYS.previousCaKey]: previous.pair.key,
        }
      : {}),
  };
  return { data, changes, nextCheckAt };
}
