import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { certificatesOf } from '../../lib/pem-certificates.ts';
import type { AccessApplicationSpec } from '../api/access-application.ts';
import type { FieldError } from '../errors.ts';
import { missingSecret, missingSecretKey, TLS_CERTIFICATE_KEY, TLS_PRIVATE_KEY_KEY } from './references.ts';
import type { SecretsByName } from './render-auth.ts';

/**
 * How the sidecar checks an https upstream: the certificates it trusts (null: the public CAs) and
 * the name; and what it presents when the upstream asks for a client certificate.
 */
export interface RenderedUpstreamTls {
  readonly ca: string | null;
  readonly serverName: string;
  readonly clientCertificate?: { readonly certificates: string; readonly key: string };
}

/**
 * A client certificate from a kubernetes.io/tls Secret: its certificates (each parsed) and its
 * key, which must parse and be the first certificate's; the key in PKCS #8 PEM whatever form it
 * came in, so the rendered config (and its generation) does not change with the form.
 */
function clientCertificateOf(
  name: string,
  secrets: SecretsByName,
  field: string,
  errors: FieldError[],
): RenderedUpstreamTls['clientCertificate'] {
  const secret = secrets.get(name);
  if (!secret) {
    errors.push({ path: field, message: missingSecret(name) });
    return undefined;
  }
  const missing = [TLS_CERTIFICATE_KEY, TLS_PRIVATE_KEY_KEY].filter((key) => secret[key] === undefined);
  if (missing.length > 0) {
    errors.push({ path: field, message: missing.map((key) => missingSecretKey(name, key)).join('; ') });
    return undefined;
  }
  const read = certificatesOf(secret[TLS_CERTIFICATE_KEY] as string);
  if ('problem' in read) {
    errors.push({ path: field, message: `Secret ${name} key ${TLS_CERTIFICATE_KEY} ${read.problem}` });
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(secret[TLS_PRIVATE_KEY_KEY] as string);
  } catch {
    errors.push({
      path: field,
      message: `Secret ${name} key ${TLS_PRIVATE_KEY_KEY} holds no private key that parses (PEM)`,
    });
    return undefined;
  }
  const first = new X509Certificate(read.certificates);
  if (!first.checkPrivateKey(key)) {
    errors.push({
      path: field,
      message: `Secret ${name}: the key of ${TLS_PRIVATE_KEY_KEY} is not the key of the first certificate of ${TLS_CERTIFICATE_KEY}`,
    });
    return undefined;
  }
  return { certificates: read.certificates, key: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * The TLS settings of an https upstream, or undefined for http (where `tls` is an error). The
 * name checked defaults to the host of `url`, whatever address the sidecar connects to (an
 * injected sidecar connects to 127.0.0.1 and still checks the application's own name).
 */
export function renderUpstreamTls(
  spec: AccessApplicationSpec['upstream'],
  secrets: SecretsByName,
  at: (field: string) => string,
  errors: FieldError[],
): RenderedUpstreamTls | undefined {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return undefined; // reported with the url
  }
  if (url.protocol !== 'https:') {
    if (spec.tls) errors.push({ path: at('spec.upstream.tls'), message: 'tls is for an https url' });
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const serverName = spec.tls?.serverName ?? host;
  let ca: string | null = null;
  const ref = spec.tls?.caSecretRef;
  if (ref) {
    const field = 'spec.upstream.tls.caSecretRef';
    const secret = secrets.get(ref.name);
    const pem = secret?.[ref.key];
    if (!secret) errors.push({ path: at(`${field}.name`), message: missingSecret(ref.name) });
    else if (pem === undefined)
      errors.push({ path: at(`${field}.key`), message: missingSecretKey(ref.name, ref.key) });
    else {
      const read = certificatesOf(pem);
      if ('problem' in read)
        errors.push({
          path: at(`${field}.key`),
          message: `Secret ${ref.name} key ${ref.key} ${read.problem}`,
        });
      else ca = read.certificates;
    }
  }
  const clientRef = spec.tls?.clientCertificateSecretRef;
  const clientCertificate =
    clientRef &&
    clientCertificateOf(
      clientRef.name,
      secrets,
      at('spec.upstream.tls.clientCertificateSecretRef.name'),
      errors,
    );
  return {
    ca,
    serverName: isIP(serverName) === 6 ? serverName.toLowerCase() : serverName,
    ...(clientCertificate && { clientCertificate }),
  };
}
