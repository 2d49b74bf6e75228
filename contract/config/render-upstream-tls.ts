import { isIP } from 'node:net';
import { certificatesOf } from '../../lib/pem-certificates.ts';
import type { AccessApplicationSpec } from '../api/access-application.ts';
import type { FieldError } from '../errors.ts';
import { missingSecret, missingSecretKey } from './references.ts';
import type { SecretsByName } from './render-auth.ts';

/** How the sidecar checks an https upstream: the certificates it trusts (null: the public CAs) and the name. */
export interface RenderedUpstreamTls {
  readonly ca: string | null;
  readonly serverName: string;
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
  return { ca, serverName: isIP(serverName) === 6 ? serverName.toLowerCase() : serverName };
}
