import { decodeJwt, decodeProtectedHeader } from 'jose';
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
    // Its session opened, so the cookie's protected header names its key.
    const kid = readOrUndefined(
      () => decodeProtectedHeader(before.sessions.cookies(scope.req.headers.cookie).sealed ?? '').kid,
    );
    return kid === undefined || !now.cookieKids.has(kid);
  }
  if (scope.authMethod === 'service-token') {
    if (now?.serviceTokenById === before.serviceTokenById) return false;
    const id = scope.identity?.serviceTokenId ?? '';
    const was = before.serviceTokenById.get(id);
    const is = now?.serviceTokenById.get(id);
    return !was || !is || is.sha256 !== was.sha256 || (is.expiresAt !== null && is.expiresAt <= Date.now());
  }
  if (scope.authMethod === 'service-account') {
    if (now?.serviceAccounts === before.serviceAccounts) return false;
    const accepted = now?.settings.serviceAccounts ?? null;
    if (accepted === null) return true;
    // Verified when it arrived: only whether the new settings take its issuer and an audience of it.
    const claims = readOrUndefined(() => decodeJwt(scope.req.headers.authorization?.slice(7).trim() ?? ''));
    const audiences = Array.isArray(claims?.aud) ? claims.aud : [claims?.aud];
    return (
      claims?.iss !== accepted.issuer ||
      !audiences.some((a) => a !== undefined && accepted.audiences.includes(a))
    );
  }
  return false;
}

/** What `read` gives, or undefined when it throws (jose's decoders, on what is not a token). */
function readOrUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
