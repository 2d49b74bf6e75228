import { X509Certificate } from 'node:crypto';
import { applicationLabel } from '../../../contract/application-label.ts';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { logEvent } from '../../../contract/event-writer.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';
import { tlsName } from '../upstream/upstream.ts';

/** The `app` of the sidecar's own events: as its request lines name the application, or null before a config. */
export const appOf = (config: SidecarConfig | undefined): string | null =>
  config ? applicationLabel(config.application) : null;

/** How the upstream's certificate is checked, for config_loaded: null for http. */
function upstreamTlsOf(upstream: SidecarConfig['upstream']): {
  serverName: string;
  ca: 'public' | 'secret';
  clientCertificate: { subject: string; notAfter: string } | null;
} | null {
  if (!upstream.origin.startsWith('https:')) return null;
  // An https origin given by --upstream to a config of an http url: Node.js's defaults.
  const client = upstream.tls?.clientCertificate;
  const certificate = client ? new X509Certificate(client.certificates) : undefined;
  return {
    serverName: tlsName(upstream),
    ca: upstream.tls?.ca ? 'secret' : 'public',
    clientCertificate: certificate
      ? {
          subject: certificate.subject.split('\n').join(', '),
          notAfter: new Date(certificate.validToDate).toISOString(),
        }
      : null,
  };
}

/** The config_loaded event: which config now serves, and how many policies it enforces or audits. */
export function logConfigLoaded(sink: LogSink, config: SidecarConfig, source: 'file' | 'operator'): void {
  const audit = config.policies.filter((p) => p.mode === 'audit').length;
  logEvent(sink, 'config_loaded', {
    app: applicationLabel(config.application),
    generation: config.generation,
    source,
    policies: config.policies.length - audit,
    auditPolicies: audit,
    identityProviders: config.auth.providers.map((p) => p.name),
    serviceTokens: config.auth.serviceTokens.tokens.length,
    serviceAccounts: config.auth.serviceAccounts !== null,
    upstream: config.upstream.origin,
    upstreamTls: upstreamTlsOf(config.upstream),
  });
}
