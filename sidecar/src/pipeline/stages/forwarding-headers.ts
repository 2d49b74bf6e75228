import { normaliseIp } from '../../../../lib/net/client-ip.ts';
import { withoutGatehouseCookies } from '../../auth/cookies.ts';
import { forwardingRule } from '../../http/forwarding-header-rules.ts';
import { connectionTokens, HOP_BY_HOP } from '../../http/hop-by-hop.ts';
import type { RequestScope } from '../../request-scope.ts';

/** The private endpoint the connection came through, for the application (`aws:vpce-…`). */
export const PRIVATE_ENDPOINT_HEADER = 'x-gatehouse-private-endpoint';

/** Headers Gatehouse always sets itself on the way upstream. */
const REPLACED: ReadonlySet<string> = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'expect',
  'traceparent',
  'tracestate',
]);

/**
 * Builds the upstream header list from the raw request headers: hop-by-hop headers and those
 * named in Connection removed, every copy of every identity header removed (any case, `_` and
 * `.` spellings, and the names this application stamps), the credentials Gatehouse consumed
 * (service token headers, a ServiceAccount bearer token, Gatehouse cookies) removed, names
 * with `_` removed (servers that read them as `-` would see a header nobody checked), rewrite
 * and method-override headers removed, client and connection headers kept only from trusted
 * proxies (forwarding-header-rules.ts), then
 * X-Forwarded-For/Proto/Host, X-Real-IP, the request id, the trace context and, behind a
 * private endpoint, X-Gatehouse-Private-Endpoint set.
 */
export function forwardingHeaders(scope: RequestScope): undefined {
  const raw = scope.req.rawHeaders;
  const idHeader = scope.state.config.requestId.header;
  let connection: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') {
      connection ??= new Set();
      for (const t of connectionTokens([raw[i + 1] as string])) connection.add(t);
    }
  }
  const auth = scope.state.auth;
  const withheld = scope.state.withheldHeader;
  const cookieBase = auth?.settings.session.cookieName ?? '';
  const out: string[] = ['host', scope.host];
  let forwardedFor = '';
  let forwardedProto = '';
  let forwardedHost = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (name === 'transfer-encoding' || (name === 'content-length' && value !== '0')) scope.hasBody = true;
    if (HOP_BY_HOP.has(name) || connection?.has(name) || name === idHeader) continue;
    if (name.includes('_') || withheld(name)) continue;
    if (auth !== null) {
      if (name === 'authorization' && scope.authMethod === 'service-account') continue;
      if (name === 'cookie') {
        const kept = withoutGatehouseCookies(value, cookieBase);
        if (kept !== null) out.push(raw[i] as string, kept);
        continue;
      }
    }
    const rule = forwardingRule(name);
    if (rule === 'always_drop') continue;
    if (rule === 'trusted_only') {
      if (!scope.peerTrusted) continue;
      if (name === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
      else if (name === 'x-forwarded-proto') forwardedProto ||= value;
      else if (name === 'x-forwarded-host') forwardedHost ||= value;
      if (REPLACED.has(name)) continue;
    } else if (REPLACED.has(name)) continue;
    out.push(raw[i] as string, value);
  }
  const peer = normaliseIp(scope.peerIp);
  out.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${peer}` : peer,
    'x-forwarded-proto',
    forwardedProto || 'http',
    'x-forwarded-host',
    forwardedHost || scope.host,
    'x-real-ip',
    scope.clientIp,
    idHeader,
    scope.requestId,
    'traceparent',
    scope.traceparent,
  );
  if (scope.tracestate !== null) out.push('tracestate', scope.tracestate);
  // Behind AWS PrivateLink and its peers, the consumer the connection came from (a client's own
  // X-Gatehouse-* headers never get here: the identity prefix withheld them above).
  if (scope.privateEndpoint !== null) out.push(PRIVATE_ENDPOINT_HEADER, scope.privateEndpoint);
  scope.upstreamHeaders = out;
  return undefined;
}
