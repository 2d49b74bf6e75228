import { preferredUsername } from '../../auth/identity-document.ts';
import { utf8Field } from '../../http/utf8-field.ts';
import type { RequestScope } from '../../request-scope.ts';

/**
 * Stamps the verified identity on the upstream request, after every incoming copy was stripped:
 * user, email and groups headers (UTF-8), and the signed identity JWT. The JWT is signed once per caller
 * and reused while more than half of its lifetime is left, so most requests pay no signature.
 */
export function stampIdentity(scope: RequestScope): undefined | Promise<undefined> {
  const auth = scope.state.auth;
  const identity = scope.identity;
  if (auth === null || identity === null) return undefined;
  const names = auth.settings.identityHeaders;
  const out = scope.upstreamHeaders;
  // Values go as UTF-8 bytes: the identity JWT carries the same claims as JSON.
  const user = utf8Field(identity.sub);
  for (const name of names.user) out.push(name, user);
  if (identity.email !== null) {
    const email = utf8Field(identity.email);
    for (const name of names.email) out.push(name, email);
  }
  const forwarded = auth.forwardedGroups(identity.groups);
  if (forwarded.length > 0) {
    const groups = utf8Field(forwarded.join(','));
    for (const name of names.groups) out.push(name, groups);
  }
  if (names.preferredUsername.length > 0) {
    const preferred = preferredUsername(identity);
    if (preferred !== null) {
      const value = utf8Field(preferred);
      for (const name of names.preferredUsername) out.push(name, value);
    }
  }
  const now = Date.now();
  const cached = auth.assertions.cached(scope.assertionKey, now);
  if (cached !== undefined) {
    out.push(names.assertion, cached);
    return undefined;
  }
  const sent = forwarded === identity.groups ? identity : { ...identity, groups: forwarded };
  return auth.assertions.sign(scope.assertionKey, sent, scope.sessionId, now).then((jwt) => {
    out.push(names.assertion, jwt);
    return undefined;
  });
}
