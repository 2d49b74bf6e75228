import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { DEFAULT_MAX_RESPONSE_HEADER_BYTES } from '../../../contract/config/render.ts';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { type Admission, type AdmissionSettings, createAdmission } from '../../../lib/admission.ts';
import { buildConnector, Pool } from '../../../lib/http/undici-core.ts';
import { watchClientCertificateRefusal } from './tls-alerts.ts';

type UpstreamSettings = SidecarConfig['upstream'];

/** Keep-alive connections idle longer than this are closed; below the 5 s default of most app servers. */
export const UPSTREAM_KEEP_ALIVE_MS = 4_000;

/** How the pool's slots are shared out: every setting of the admission gate but its capacity. */
export type UpstreamFairness = Omit<AdmissionSettings, 'capacity'>;

/** A keep-alive connection pool to the application, the gate in front of it, and its settings. */
export interface Upstream {
  readonly settings: UpstreamSettings;
  readonly pool: Pool;
  /** Who may use a pool connection next; every request passes it before dispatch. */
  readonly admission: Admission;
  /**
   * An https upstream's certificate as its latest connection presented it: the name checked and
   * when it expires (epoch seconds); undefined for http, or before the first connection.
   */
  certificate(): { readonly serverName: string; readonly notAfter: number } | undefined;
  /**
   * The client certificate presented to an upstream that asks for one (mutual TLS): the name the
   * upstream is checked for and when the certificate expires (epoch seconds); undefined without.
   */
  clientCertificate(): { readonly serverName: string; readonly notAfter: number } | undefined;
  /** Closes the pool once requests already dispatched have finished. */
  retire(): void;
  /** Ends every upstream request now (shutdown after the grace). */
  destroy(): Promise<void>;
}

/** Opens a pool for the upstream origin with Gatehouse's timeouts (tighter than Node.js defaults). */
export function createUpstream(settings: UpstreamSettings, fairness: UpstreamFairness): Upstream {
  let certificateNotAfter: number | undefined;
  const pool = new Pool(settings.origin, {
    connections: settings.maxConnections,
    pipelining: 1,
    connectTimeout: settings.connectTimeoutMs,
    headersTimeout: settings.responseHeadersTimeoutMs,
    bodyTimeout: settings.idleTimeoutMs,
    keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS,
    keepAliveMaxTimeout: UPSTREAM_KEEP_ALIVE_MS,
    maxHeaderSize: settings.maxResponseHeaderBytes ?? DEFAULT_MAX_RESPONSE_HEADER_BYTES,
    // HTTP/1.1 to the application whatever its TLS offers: undici spoke HTTP/2 to an https one that
    // offered it (WebSocket upgrades cannot go over it, and the proxy relays HTTP/1.1 semantics).
    allowH2: false,
    ...(settings.origin.startsWith('https:')
      ? { connect: observedTlsConnector(settings, (notAfter) => (certificateNotAfter = notAfter)) }
      : {}),
  });
  const admission = createAdmission({ ...fairness, capacity: settings.maxConnections });
  const presented = settings.tls?.clientCertificate;
  const client = presented && {
    serverName: tlsName(settings),
    notAfter: Math.floor(new X509Certificate(presented.certificates).validToDate.getTime() / 1000),
  };
  return {
    settings,
    pool,
    admission,
    certificate: () =>
      certificateNotAfter === undefined
        ? undefined
        : { serverName: tlsName(settings), notAfter: certificateNotAfter },
    clientCertificate: () => client,
    retire() {
      pool.close().catch(() => undefined);
    },
    async destroy() {
      admission.close();
      await pool.destroy().catch(() => undefined);
    },
  };
}

/** The name an https upstream's certificate is checked for: the config's, else the origin's host. */
export function tlsName(settings: UpstreamSettings): string {
  return settings.tls?.serverName ?? new URL(settings.origin).hostname.replace(/^\[|\]$/g, '');
}

/**
 * The connector of an https upstream's pool: undici's own (with the pool's connect timeout, and
 * HTTP/1.1 only in ALPN), with the checks of the config's tls, that tells `seen` when each new
 * connection's certificate expires (for the expiry metric and its alert), and watches it for a
 * refusal of the client certificate after the handshake (TLS 1.3).
 */
function observedTlsConnector(settings: UpstreamSettings, seen: (notAfter: number) => void) {
  const connect = buildConnector({
    ...(settings.tls ? tlsChecks(settings.tls) : {}),
    allowH2: false,
    timeout: settings.connectTimeoutMs,
  });
  const observed: typeof connect = (options, callback) =>
    connect(options, (...result) => {
      const [error, socket] = result;
      if (error === null && 'getPeerCertificate' in socket) {
        const notAfter = Date.parse((socket as TLSSocket).getPeerCertificate().valid_to ?? '');
        if (Number.isFinite(notAfter)) seen(Math.floor(notAfter / 1000));
        watchClientCertificateRefusal(socket as TLSSocket);
      }
      callback(...result);
    });
  return observed;
}

/**
 * How an https upstream's certificate is checked: against the config's CA (else Node's public
 * ones) and for the config's name, whatever address the pool connects to (an injected sidecar
 * connects to 127.0.0.1, where the application's certificate names the application). The name
 * goes as SNI too, unless it is an address (RFC 6066 allows names only). With a client
 * certificate, it is presented when the upstream asks for one (mutual TLS).
 */
function tlsChecks(tls: NonNullable<UpstreamSettings['tls']>) {
  const name = tls.serverName;
  // Loaded only for an https upstream: a sidecar of an http one does not pay for the module.
  const { checkServerIdentity } = process.getBuiltinModule('node:tls');
  return {
    ...(tls.ca === null ? {} : { ca: tls.ca }),
    ...(tls.clientCertificate
      ? { cert: tls.clientCertificate.certificates, key: tls.clientCertificate.key }
      : {}),
    ...(isIP(name) === 0 ? { servername: name } : {}),
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

/** True when two configs would build identical pools, so the pool (and its warm connections) can be kept. */
export function sameUpstreamSettings(a: UpstreamSettings, b: UpstreamSettings): boolean {
  return (
    a.origin === b.origin &&
    a.connectTimeoutMs === b.connectTimeoutMs &&
    a.responseHeadersTimeoutMs === b.responseHeadersTimeoutMs &&
    a.idleTimeoutMs === b.idleTimeoutMs &&
    a.maxConnections === b.maxConnections &&
    a.maxResponseHeaderBytes === b.maxResponseHeaderBytes &&
    a.tls?.ca === b.tls?.ca &&
    a.tls?.serverName === b.tls?.serverName &&
    a.tls?.clientCertificate?.certificates === b.tls?.clientCertificate?.certificates &&
    a.tls?.clientCertificate?.key === b.tls?.clientCertificate?.key
  );
}
