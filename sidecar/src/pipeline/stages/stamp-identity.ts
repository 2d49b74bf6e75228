import type { RequestScope } from '../../request-scope.ts';

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
  out.push(names.user, identity.sub);
  if (identity.email !== null) out.push(names.email, identity.email);
  if (identity.groups.length > 0) out.push(names.groups, identity.groups.join(','));
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
