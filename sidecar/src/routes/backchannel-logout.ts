import type { LogoutTokenRefusalCode } from '../../../contract/log-events.ts';
import { sessionEndAccount } from '../../../contract/session-ends.ts';
import { clientNetwork } from '../../../lib/net/address-bits.ts';
import { type BodyRead, readRequestBody } from '../../../lib/request-body.ts';
import { authEvent } from '../auth/auth-events.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { verifyLogoutToken } from '../auth/logout-token.ts';
import { PROVIDER_BUSY_RETRY_AFTER_SECONDS } from '../auth/provider-calls.ts';
import { jsonResponse, type LocalResponse, withHeaders } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';
import { endEverywhere } from './end-everywhere.ts';

/** The back-channel logout URI to register at the identity provider (on the external origin). */
const MAX_BODY_BYTES = 16 * 1024;
/**
 * How long a body has to follow its head to be read without a share: a provider writes both at
 * once, and a body written apart waits at most for the acknowledgement of the head (delayed
 * acknowledgements: 40 ms on Linux, up to 200 ms elsewhere).
 */
export const BODY_WITH_HEAD_MS = 500;

/**
 * POST /.gatehouse/backchannel-logout: the identity provider says a session ended there (OpenID
 * Connect Back-Channel Logout 1.0). The logout token is verified (see verifyLogoutToken); then
 * every Gatehouse session of that provider session (`sid`), or else of that subject (`sub`),
 * ends here at once and, through the operator or the shared revocations directory, in every
 * sidecar of the application. Answers 200, or 400 with the reason (the provider logs it).
 */
export async function backchannelLogoutRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  const refuse = (reason: LogoutTokenRefusalCode, provider?: string): LocalResponse => {
    authEvent(scope, 'backchannel_logout_refused', { reason, ...(provider ? { provider } : {}) });
    return jsonResponse(400, JSON.stringify({ error: 'invalid_request', error_description: reason }), 0);
  };
  const reading = readRequestBody(scope.req, MAX_BODY_BYTES, undefined, () => scope.inviteBody());
  // A provider sends the body with the head: such a logout is read at once and takes no share, so
  // clients that hold the shares of an address with bodies they never send (the provider's own
  // address, behind an ingress whose forwarded address is not trusted) cannot refuse it.
  let body = await firstOf(reading, BODY_WITH_HEAD_MS);
  if (body === undefined) {
    // A slow body holds a share while it comes: one beyond it is answered unread, so its
    // connection holds nothing. A provider may send it again; one that does not loses it (the
    // sessions end at their expiry, or by `gatehouse revoke`).
    const leave = auth.backchannelLogouts.enter(clientNetwork(scope.clientIp));
    if (leave === null) {
      authEvent(scope, 'backchannel_logout_refused', { reason: 'busy' });
      return withHeaders(jsonResponse(503, JSON.stringify({ error: 'temporarily_unavailable' }), 0), [
        'retry-after',
        String(PROVIDER_BUSY_RETRY_AFTER_SECONDS),
      ]);
    }
    try {
      body = await reading;
    } finally {
      leave();
    }
  }
  return endSessions(scope, auth, body, refuse);
}

/** The read's result if it comes within `ms`, else undefined (the read goes on). */
function firstOf(reading: Promise<BodyRead>, ms: number): Promise<BodyRead | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void reading.then((body) => {
      clearTimeout(timer);
      resolve(body);
    });
  });
}

/** Verifies the logout token of a body read, and ends the sessions it names. */
async function endSessions(
  scope: RequestScope,
  auth: AuthRuntime,
  body: BodyRead,
  refuse: (reason: LogoutTokenRefusalCode, provider?: string) => LocalResponse,
): Promise<LocalResponse> {
  if (body.kind === 'too_large') return refuse('too_large');
  // The connection is gone (or was cut for a slow body): nobody to answer. (No budget is given
  // here, so a body is never refused for one.)
  if (body.kind !== 'complete') return jsonResponse(400, '{"error":"invalid_request"}', 0);
  const token = new URLSearchParams(body.text).get('logout_token');
  if (!token) return refuse('missing_token');
  const verdict = await verifyLogoutToken(token, auth.providers, auth.logoutTokenIds);
  if (!verdict.ok) return refuse(verdict.reason, verdict.provider);
  const now = Math.floor(Date.now() / 1000);
  const reason = 'back-channel logout';
  endEverywhere(
    scope,
    auth,
    verdict.sid !== undefined
      ? { providerSession: verdict.sid, provider: verdict.provider, before: now, reason }
      : { subject: verdict.sub as string, provider: verdict.provider, before: now, reason },
    verdict.sub !== undefined ? sessionEndAccount(verdict.provider, verdict.sub) : undefined,
  );
  authEvent(scope, 'backchannel_logout', {
    provider: verdict.provider,
    ...(verdict.sid !== undefined ? { providerSession: verdict.sid } : {}),
    ...(verdict.sub !== undefined ? { sub: verdict.sub } : {}),
    jti: verdict.jti,
  });
  return jsonResponse(200, '{}', 0);
}
