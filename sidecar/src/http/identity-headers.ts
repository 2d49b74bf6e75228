/**
 * Request headers that carry identity to an application, as Gatehouse and other gateways set
 * them. No client may send any of them: every incoming copy is removed before the request is
 * forwarded, and Gatehouse stamps its own values after authentication.
 */
export const IDENTITY_HEADERS: readonly string[] = [
  // Gatehouse's own and the oauth2-proxy profile
  'x-forwarded-email',
  'x-forwarded-user',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-access-token',
  // Cloudflare Access
  'cf-access-jwt-assertion',
  'cf-access-authenticated-user-email',
  // Google Cloud IAP (its user headers are prefixes below)
  'x-goog-iap-jwt-assertion',
  // Teleport application access
  'teleport-jwt-assertion',
  // Vouch Proxy (its claims are a prefix below)
  'x-vouch-user',
  // Authelia (with remote-user below)
  'remote-groups',
  'remote-email',
  'remote-name',
  // Common application conventions (Grafana auth proxy, Apache, Jenkins, ...)
  'remote-user',
  'x-remote-user',
  'x-remote-group',
  'x-remote-email',
  'x-webauth-user',
  'x-webauth-email',
  'x-webauth-groups',
  'x-user',
  'x-email',
  'x-groups',
];

/**
 * Header name prefixes reserved for identity: every header starting with one is removed. Beside
 * Gatehouse's and Pomerium's, those of the platforms an application often comes from, which it
 * may still believe: Google Cloud IAP (`X-Goog-Authenticated-User-Email`), an AWS Application Load
 * Balancer (`X-Amzn-Oidc-Data`), Azure App Service authentication (`X-MS-CLIENT-PRINCIPAL-NAME`,
 * `X-MS-TOKEN-AAD-ID-TOKEN`), authentik, Tailscale (`Tailscale-User-Login`) and Vouch Proxy.
 */
export const IDENTITY_HEADER_PREFIXES: readonly string[] = [
  'x-gatehouse-',
  'x-pomerium-',
  'x-goog-authenticated-user-',
  'x-amzn-oidc-',
  'x-ms-client-principal',
  'x-ms-token-',
  'x-authentik-',
  'tailscale-user-',
  'x-vouch-idp-',
];

/** The prefixes as one test (a header name is compared once, not once per prefix). */
const RESERVED_PREFIX = new RegExp(`^(?:${IDENTITY_HEADER_PREFIXES.join('|')})`);

/**
 * The form header names are compared in: lower case, with `_` and `.` read as `-`, because
 * some servers (and CGI-style frameworks) treat `X_Forwarded_Email` as `X-Forwarded-Email`.
 */
export function comparableHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') || lower.includes('.') ? lower.replace(/[_.]/g, '-') : lower;
}

/** Tells whether an incoming header (any spelling) must never reach the application. */
export type HeaderTest = (name: string) => boolean;

/**
 * Compiles the test for one application: the built-in identity headers and prefixes, plus the
 * names it adds (the headers it stamps under custom names, the credential headers it consumes).
 */
export function compileIdentityHeaderTest(extraNames: Iterable<string> = []): HeaderTest {
  const names: ReadonlySet<string> = new Set([
    ...IDENTITY_HEADERS,
    ...[...extraNames].map(comparableHeaderName),
  ]);
  return (name) => {
    const comparable = comparableHeaderName(name);
    if (names.has(comparable)) return true;
    return RESERVED_PREFIX.test(comparable);
  };
}
