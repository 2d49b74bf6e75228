import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const COMMON_NAME = '2.5.4.3';
const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** Certificates start this long before they are made, for clocks that lag. */
export const BACKDATE_MS = 5 * 60_000;

const name = (commonName: string): Buffer =>
  sequence(set(sequence(oid(COMMON_NAME), utf8String(commonName))));
const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
const keyIdentifier = (key: KeyObject): Buffer =>
  createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 20);

function subjectAltNames(hosts: readonly string[]): Buffer {
  return sequence(
    ...hosts.map((host) => {
      const family = isIP(host);
      if (family === 0) return implicit(2, Buffer.from(host, 'ascii'));
      const address = family === 4 ? Buffer.from(host.split('.').map(Number)) : Buffer.from(ipv6Bytes(host));
      return implicit(7, address);
    }),
  );
}

/** The 16 bytes of an IPv6 literal (hex groups, optionally with one ::). */
function ipv6Bytes(text: string): number[] {
  if (text.includes('.'))
    throw new Error(`IPv6 address with an embedded IPv4 part is not supported: ${text}`);
  const [head = '', tail = ''] = text.split('::');
  const groups = (s: string): number[] => (s ? s.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const left = groups(head);
  const right = text.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

interface IssueOptions {
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  readonly issuer: { readonly commonName: string; readonly key: KeyObject; readonly publicKey: KeyObject };
  readonly extensions: readonly Buffer[];
}

function issue(options: IssueOptions): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive, and never shortened below 15 bytes of entropy
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    name(options.issuer.commonName),
    sequence(time(options.notBefore), time(options.notAfter)),
    name(options.commonName),
    options.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        ...options.extensions,
        extension(EXT.subjectKeyIdentifier, false, octetString(keyIdentifier(options.publicKey))),
        extension(
          EXT.authorityKeyIdentifier,
          false,
          sequence(implicit(0, keyIdentifier(options.issuer.publicKey))),
        ),
      ),
    ),
  );
  const signature = sign('sha256', tbs, options.issuer.key);
  const der = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

const newKey = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pemKey = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A new self-signed certificate authority (ECDSA P-256) that may sign only end-entity certificates. */
export function createCertificateAuthority(commonName: string, now: Date, validityMs: number): KeyPair {
  const { privateKey, publicKey } = newKey();
  const cert = issue({
    commonName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityMs),
    publicKey,
    issuer: { commonName, key: privateKey, publicKey },
    extensions: [
      extension(EXT.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      // keyCertSign and cRLSign, plus digitalSignature (bits 0, 5, 6)
      extension(EXT.keyUsage, true, bitString(Buffer.of(0x86), 1)),
    ],
  });
  return { cert, key: pemKey(privateKey) };
}

/** A TLS server certificate for the given DNS names and IP addresses, signed by ca; never valid past the CA. */
export function createServingCertificate(
  ca: KeyPair,
  hosts: readonly string[],
  now: Date,
  validityMs: number,
): KeyPair {
  if (hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  const { privateKey, publicKey } = newKey();
  const notAfter = Math.min(now.getTime() + validityMs, new Date(caCert.validTo).getTime());
  const cert = issue({
    commonName: hosts[0] as string,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey,
    issuer: { commonName: commonNameOf(caCert), key: caKey, publicKey: createPublicKey(caKey) },
    extensions: [
      extension(EXT.basicConstraints, true, sequence()),
      extension(EXT.keyUsage, true, bitString(Buffer.of(0x80), 7)), // digitalSignature
      extension(EXT.extKeyUsage, false, sequence(oid(SERVER_AUTH))),
      extension(EXT.subjectAltName, false, subjectAltNames(hosts)),
    ],
  });
  return { cert, key: pemKey(privateKey) };
}

/** The CN of a certificate's subject. */
export function commonNameOf(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
}

/** The DNS names and IP addresses of a certificate's subjectAltName, as given to createServingCertificate. */
export function hostsOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((entry) => normalizeHost(entry.replace(/^(DNS|IP Address):/, '')));
}

/** A host in the form hostsOf reports it: IPv6 addresses as eight hex groups, lower case. */
export function normalizeHost(host: string): string {
  if (isIP(host) !== 6) return host.toLowerCase();
  const bytes = ipv6Bytes(host);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** Splits a PEM bundle into its certificates. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}
