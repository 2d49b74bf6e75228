import type { RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';

/**
 * Whether the config `state` no longer accepts the credential that admitted an exchange still
 * open (a WebSocket, a request in progress) under an earlier one: the cookie key its session was
 * sealed under was removed (the way to end every session of an application at once), the
 * service token it used was removed or its secret replaced, or the ServiceAccount settings no
 * longer take its token's issuer or any of its audiences. Such a credential is refused at
 * once by every new request; before, what it had opened stayed open.
 */
export function credentialWithdrawn(state: RuntimeState, scope: RequestScope): boolean {
  const before = scope.state.auth;
  const now = state.auth;
  if (before === null || before === now) return false;
  if (scope.authMethod === 'oidc') {
    if (now === null) return true;
    if (now.cookieKids === before.cookieKids) return false;
    const kid = sealedKid(before.sessions.cookies(scope.req.headers.cookie).sealed);
    return kid === undefined || !now.cookieKids.has(kid);
  }
  if (scope.authMethod === 'service-token') {
    if (now?.serviceTokenById === before.serviceTokenById) return false;
    const id = scope.identity?.sub.slice('service-token:'.length) ?? '';
    const was = before.serviceTokenById.get(id);
    const is = now?.serviceTokenById.get(id);
    return !was || !is || is.sha256 !== was.sha256 || (is.expiresAt !== null && is.expiresAt <= Date.now());
  }
  if (scope.authMethod === 'service-account') {
    if (now?.serviceAccounts === before.serviceAccounts) return false;
    const accepted = now?.settings.serviceAccounts ?? null;
    if (accepted === null) return true;
    // Verified when it arrived: only whether the new settings take its issuer and an audience of it.
    const claims = bearerClaims(scope.req.headers.authorization);
    const audiences = Array.isArray(claims?.aud) ? claims.aud : [claims?.aud];
    return claims?.iss !== accepted.issuer || !audiences.some((a) => accepted.audiences.includes(String(a)));
  }
  return false;
}

/** The claims of a bearer JWT (verified when its request arrived), or undefined. */
function bearerClaims(authorization: string | undefined): { iss?: unknown; aud?: unknown } | undefined {
  const payload = authorization?.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object'
      ? (claims as { iss?: unknown; aud?: unknown })
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `kid` of a sealed session cookie's protected header (it was opened, so it is well formed). */
function sealedKid(sealed: string | undefined): string | undefined {
  const header = sealed?.slice(0, sealed.indexOf('.'));
  if (!header) return undefined;
  try {
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid?: unknown }).kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}
