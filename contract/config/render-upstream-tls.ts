import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { AccessApplicationSpec } from '../api/access-application.ts';
import type { FieldError } from '../errors.ts';
import { missingSecret, missingSecretKey } from './references.ts';
import type { SecretsByName } from './render-auth.ts';

/** How the sidecar checks an https upstream: the certificates it trusts (null: the public CAs) and the name. */
export interface RenderedUpstreamTls {
  readonly ca: string | null;
  readonly serverName: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of a bundle, each parsed; a message when there is none or one does not parse. */
function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${i + 1} of ${blocks.length} does not parse (${(error as Error).message})`;
    }
  }
  return undefined;
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
      const problem = certificateProblem(pem);
      if (problem)
        errors.push({ path: at(`${field}.key`), message: `Secret ${ref.name} key ${ref.key} ${problem}` });
      else ca = pem;
    }
  }
  return { ca, serverName: isIP(serverName) === 6 ? serverName.toLowerCase() : serverName };
}
