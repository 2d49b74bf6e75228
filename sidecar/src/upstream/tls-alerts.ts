import type { TLSSocket } from 'node:tls';

/**
 * The TLS alerts by which an https application says it takes no client certificate from the
 * sidecar: it wanted one and got none (TLS 1.3's certificate_required), or refused the one sent
 * (its CA, its expiry, its use). Node names each alert the peer sent by an OpenSSL code.
 */
const CLIENT_CERTIFICATE_REFUSALS: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);

/** Whether an error code is an application's refusal of the sidecar's client certificate (or of its lack). */
export function isClientCertificateRefusal(code: string): boolean {
  return CLIENT_CERTIFICATE_REFUSALS.has(code);
}

/**
 * Local ports of connections to https applications that refused the client certificate after the
 * handshake, kept for a moment after each closes. Over TLS 1.3 the application sends its alert
 * once the handshake is done: the socket's own error says why, but undici then ends the request
 * with "other side closed", which names only the connection (its local port).
 */
const refusedAt = new Map<number, string>();
const KEPT_MS = 1_000;

/** Watches a connection to an https application for a refusal of its client certificate. */
export function watchClientCertificateRefusal(socket: TLSSocket): void {
  const port = socket.localPort;
  if (port === undefined) return;
  socket.prependOnceListener('error', (error: NodeJS.ErrnoException) => {
    if (!isClientCertificateRefusal(error.code ?? '')) return;
    refusedAt.set(port, error.code as string);
    socket.once('close', () => setTimeout(() => refusedAt.delete(port), KEPT_MS).unref());
  });
}

/** Whether undici's error for a closed connection follows the application's refusal of the client certificate. */
export function closedForClientCertificate(error: unknown): boolean {
  const port = (error as { socket?: { localPort?: number } }).socket?.localPort;
  return port !== undefined && refusedAt.has(port);
}
