import type { PolicyIdentity } from '../../policy/input.ts';
import type { RequestScope } from '../../request-scope.ts';

/** A header-safe preferred_username claim of a user (printable Latin-1, at most 256 characters); null when none. */
export function preferredUsername(identity: PolicyIdentity): string | null {
  const value = identity.claims.preferred_username;
  if (typeof value !== 'string' || value === '' || value.length > 256) return null;
  // What a header value may carry: printable Latin-1, no controls (C0, DEL, C1); anything else
  // would be refused by the HTTP client or split the header.
  return /^[\u0020-\u007e\u00a0-\u00ff]+$/.test(value) ? value : null;
}

/**
 * Stamps the verified identity on the upstream request, after every incoming copy was stripped:
 * user, email and groups headers, and the signed identity JWT. The JWT is signed once per caller
 * and reused while more than half of its lifetime is left, so most requests pay no signature.
 */
export function stampIdentity(scope: RequestScope): undefined | Promise<undefined> {
  const auth = scope.state.auth;
  const identity = scope.identity;
  if (auth === null || identity === null) return undefined;
  const names = auth.settings.identityHeaders;
  const out = scope.upstreamHeaders;
  for (const name of names.user) out.push(name, identity.sub);
  if (identity.email !== null) for (const name of names.email) out.push(name, identity.email);
  if (identity.groups.length > 0) {
    const groups = identity.groups.join(',');
    for (const name of names.groups) out.push(name, groups);
  }
  if (names.preferredUsername.length > 0) {
    const preferred = preferredUsername(identity);
    if (preferred !== null) for (const name of names.preferredUsername) out.push(name, preferred);
  }
  const now = Date.now();
  const cached = auth.assertions.cached(scope.assertionKey, now);
  if (cached !== undefined) {
    out.push(names.assertion, cached);
    return undefined;
  }
  return auth.assertions.sign(scope.assertionKey, identity, scope.sessionId, now).then((jwt) => {
    out.push(names.assertion, jwt);
    return undefined;
  });
}
