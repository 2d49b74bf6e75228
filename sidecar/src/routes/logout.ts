import { authEvent } from '../auth/auth-events.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { buildEndSessionUrl } from '../auth/oidc-client.ts';
import { type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';

export const SIGNED_OUT_PATH = '/.gatehouse/signed-out';

/**
 * Ends the session: its cookies are deleted, its id is refused by this sidecar from now on, a
 * logout event is written, and the browser goes to the provider's end-session endpoint when it
 * has one (with id_token_hint), else to the signed-out page.
 */
export async function logoutRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  const present = auth.sessions.cookies(scope.req.headers.cookie);
  const session = present.sealed === undefined ? undefined : await auth.sessions.open(present.sealed);
  const cookies = auth.sessions.clear(present.names);
  const origin = auth.settings.externalOrigin ?? `http://${scope.host}`;
  let location = origin + SIGNED_OUT_PATH;
  if (session) {
    auth.sessions.end(session);
    authEvent(scope, 'logout', {
      provider: session.idp,
      sub: session.sub,
      email: session.email,
      sessionId: session.sid,
    });
    const provider = auth.providers.get(session.idp);
    try {
      const config = provider ? await provider.configuration() : undefined;
      if (config?.serverMetadata().end_session_endpoint) {
        location = buildEndSessionUrl(config, {
          post_logout_redirect_uri: origin + SIGNED_OUT_PATH,
          client_id: provider?.settings.clientId ?? '',
          ...(session.idToken ? { id_token_hint: session.idToken } : {}),
        }).href;
      }
    } catch {
      // The provider is unreachable: the local session is over regardless.
    }
  }
  return redirectTo(location, cookies, 'gateway');
}
