import type { UserinfoDocument } from '../../../contract/userinfo.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { identityDocument } from '../auth/identity-document.ts';
import { LocalResponse } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';

/** Headers of every userinfo answer: JSON never cached, never sniffed, nothing to frame. */
const HEADERS = [
  'content-type',
  'application/json',
  'cache-control',
  'no-store',
  'x-content-type-options',
  'nosniff',
] as const;

/**
 * GET /.gatehouse/userinfo: the caller's identity as JSON, for an application's own scripts (a
 * single-page application shows who is signed in and when the session ends without a backend
 * that reads the identity headers) and for a user asking why a page refuses them. Any credential
 * the gateway takes answers (a session, a service token, a ServiceAccount token), whatever the
 * policies say of the application's paths: it tells callers only what they are. A request without
 * one (or with a session that just ended) gets 401 JSON naming the sign-in address, never a
 * redirect. Like the other gateway routes it neither refreshes the session nor renews its idle
 * timer: a page that asks every minute does not keep an idle session alive.
 */
export function userinfoRoute(
  scope: RequestScope,
  auth: AuthRuntime,
): LocalResponse | Promise<LocalResponse> {
  const document = identityDocument(scope, auth);
  if (document === null)
    return new LocalResponse(
      401,
      [...HEADERS, 'www-authenticate', 'Bearer realm="gatehouse"'],
      JSON.stringify({
        error: 'authentication_required',
        message: 'Not signed in.',
        login: auth.providers.size > 0 ? auth.paths.login : null,
        requestId: scope.requestId,
      }),
      'denied',
      'authentication_required',
    );
  const answer = (d: UserinfoDocument) => new LocalResponse(200, HEADERS, JSON.stringify(d), 'gateway');
  return document instanceof Promise ? document.then(answer) : answer(document);
}
