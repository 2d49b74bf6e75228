import { boundedCache } from '../../../lib/bounded-cache.ts';
import type { RequestScope } from '../request-scope.ts';
import { authEvent, groupsListFailed, sessionEventFields } from './auth-events.ts';
import type { AuthRuntime } from './auth-runtime.ts';
import { withGraphGroups } from './graph-groups.ts';
import { refreshTokenGrant, userClaims } from './oidc-client.ts';
import { ProviderBusyError, ProviderCallCancelled, withProviderTurn } from './provider-calls.ts';
import { providerErrorDetail } from './provider-errors.ts';
import { identityFromClaims, keptFromSignIn, type Session } from './session.ts';
import { SessionTooLarge } from './session-jar.ts';

/** After a refresh fails for a transient reason (provider down), the next try waits this long. */
export const REFRESH_RETRY_SECONDS = 60;

/** The session after a refresh (or undefined when it ended) and the cookies that store it. */
export interface Refreshed {
  readonly session: Session | undefined;
  readonly cookies: readonly string[];
}

/**
 * Refreshes by session generation (`sid/refreshAt`), kept after they finish: a request that still
 * carries the pre-refresh cookie (sent before the new one arrived) reuses the result instead of
 * spending the already rotated refresh token again, which would end the session.
 */
const REMEMBERED_REFRESHES = 10_000;
const refreshes = boundedCache<string, Promise<Refreshed>>(REMEMBERED_REFRESHES);

function isPermanent(error: unknown): boolean {
  const e = error as { error?: unknown; code?: unknown };
  return (
    e.error === 'invalid_grant' ||
    e.error === 'unauthorized_client' ||
    e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED'
  );
}

function transientReason(error: unknown): 'provider_busy' | 'shutting_down' | 'provider_unavailable' {
  if (error instanceof ProviderBusyError) return 'provider_busy';
  if (error instanceof ProviderCallCancelled) return 'shutting_down';
  return 'provider_unavailable';
}

async function refresh(
  scope: RequestScope,
  auth: AuthRuntime,
  session: Session,
  present: readonly string[],
): Promise<Refreshed> {
  const now = Math.floor(Date.now() / 1000);
  const provider = auth.providers.get(session.idp);
  try {
    if (!provider || !session.refreshToken)
      throw Object.assign(new Error('provider no longer configured'), { error: 'invalid_grant' });
    const config = await provider.configuration();
    const refreshToken = session.refreshToken;
    // Shared by every request of the session that waits on it, so no one client's connection
    // decides whether it waits for its turn.
    const { tokens, claims, listing } = await withProviderTurn(
      auth.providerCalls,
      { key: `user:${session.sub}`, anonymous: false },
      null,
      async () => {
        const tokens = await refreshTokenGrant(config, refreshToken);
        const claims = await userClaims(config, tokens, session);
        const listed = await withGraphGroups(
          claims,
          provider.settings,
          tokens.access_token,
          scope.state.config,
        );
        // A listing that fails now leaves the session the groups the last one gave it.
        if (listed.listing?.ok === false && !session.groupsLeftOut)
          return {
            tokens,
            claims: { ...claims, [provider.settings.groupsClaim]: session.groups },
            listing: listed.listing,
          };
        return { tokens, ...listed };
      },
    );
    const identity = claims
      ? identityFromClaims(claims, provider.settings.groupsClaim, provider.settings.allowUnverifiedEmail)
      : undefined;
    if (typeof identity === 'string' || (identity && identity.sub !== session.sub)) {
      throw Object.assign(new Error('refreshed identity does not match the session'), {
        error: 'invalid_grant',
      });
    }
    // Refreshed claims say anew whether the groups were left out.
    const { groupsLeftOut: _leftOutBefore, ...before } = session;
    const next: Session = {
      ...(identity ? before : session),
      ...(identity ? { ...identity, claims: keptFromSignIn(identity.claims, session.claims) } : {}),
      seen: now,
      refreshAt: tokens.expires_in ? now + tokens.expires_in : null,
      refreshToken: tokens.refresh_token ?? session.refreshToken,
      idToken: tokens.id_token ?? session.idToken,
    };
    groupsListFailed(scope, session, 'refresh', listing);
    authEvent(scope, 'session_refreshed', sessionEventFields(next));
    // As at sign-in: the refreshed session (new groups or claims) must fit the cookies a browser sends back.
    return { session: next, cookies: await auth.sessions.store(next, present, auth.sessions.signInChunks) };
  } catch (error) {
    // Too large now: the session ends, and the sign-in that follows says why.
    const permanent = isPermanent(error) || error instanceof SessionTooLarge;
    authEvent(scope, 'session_refresh_failed', {
      ...sessionEventFields(session),
      reason: permanent ? 'refresh_rejected' : transientReason(error),
      detail: providerErrorDetail(error),
    });
    if (permanent) {
      auth.sessions.end(session);
      return { session: undefined, cookies: auth.sessions.clear(present) };
    }
    // Keep the session (the provider vouched for it recently) and try again a little later.
    const later: Session = { ...session, refreshAt: now + REFRESH_RETRY_SECONDS };
    return { session: later, cookies: await auth.sessions.store(later, present) };
  }
}

/**
 * Refreshes a session whose provider tokens have expired, once per session generation:
 * concurrent requests of the same session wait for it and share its result, and so do later
 * requests that still carry the old cookie.
 */
export function refreshSession(
  scope: RequestScope,
  auth: AuthRuntime,
  session: Session,
  present: readonly string[],
): Promise<Refreshed> {
  const key = `${session.sid}/${session.refreshAt}`;
  let pending = refreshes.get(key);
  if (!pending) {
    pending = refresh(scope, auth, session, present);
    refreshes.set(key, pending);
  }
  return pending;
}
