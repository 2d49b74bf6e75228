/**
 * What may reach the application of the headers proxies use to describe the original request.
 * The sidecar authorises the method and path it sees; a header that makes the application see
 * another one (a rewrite or a method override) would let a request past its policy, so those are
 * dropped from everyone. Headers that describe the client or its connection (address, scheme,
 * client certificate) are believed only from a configured trusted proxy.
 */
export type ForwardingRule = 'always_drop' | 'trusted_only' | 'forward';

/** Rewrite and method-override headers: never forwarded, whoever sent them. */
export const ALWAYS_DROPPED: ReadonlySet<string> = new Set([
  'x-original-url',
  'x-original-uri',
  'x-original-path',
  'x-rewrite-url',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-forwarded-method',
  'x-envoy-original-path',
  'x-envoy-original-url',
  'x-envoy-original-method',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/** Client and connection headers (beyond every `x-forwarded-*` and `x-envoy-*`) believed only from trusted proxies. */
export const TRUSTED_ONLY: ReadonlySet<string> = new Set([
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-client-cert',
  'x-ssl-client-cert',
  'x-ssl-client-verify',
  'x-ssl-client-dn',
  'ssl-client-cert',
  'ssl-client-verify',
  'x-arr-clientcert',
  'x-arr-ssl',
  'front-end-https',
  'x-url-scheme',
  'x-scheme',
]);

/** Prefixes of header families believed only from trusted proxies. */
export const TRUSTED_ONLY_PREFIXES: readonly string[] = ['x-forwarded-', 'x-envoy-'];

/** The rule for a lower-case header name. Names with `_` never get here: they are dropped first. */
export function forwardingRule(name: string): ForwardingRule {
  if (ALWAYS_DROPPED.has(name)) return 'always_drop';
  if (TRUSTED_ONLY.has(name)) return 'trusted_only';
  for (const prefix of TRUSTED_ONLY_PREFIXES) if (name.startsWith(prefix)) return 'trusted_only';
  return 'forward';
}
