import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { LRUCache } from 'lru-cache';
import type { LogoutTokenRefusalCode } from '../../../contract/log-events.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import { type ProviderClient, providerKeys } from './oidc-client.ts';

/** The event a back-channel logout token carries (OpenID Connect Back-Channel Logout 1.0, 2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token's `iat` may be this far from now, either way (clock skew and delivery delay). */
export const IAT_WINDOW_SECONDS = 300;

/** Why a logout token was refused; stable codes for the log. */
export type LogoutTokenRefusal = Exclude<LogoutTokenRefusalCode, 'too_large' | 'missing_token'>;

export type LogoutTokenVerdict =
  | {
      readonly ok: true;
      readonly provider: string;
      readonly sid: string | undefined;
      readonly sub: string | undefined;
      readonly jti: string;
    }
  | { readonly ok: false; readonly reason: LogoutTokenRefusal; readonly provider?: string };

/** Logout token ids seen, kept twice the iat window: a replay within it is refused. */
export function createSeenTokenIds(): LRUCache<string, true> {
  return boundedCache<string, true>(100_000, { ttlMs: 2 * IAT_WINDOW_SECONDS * 1000 });
}

const text = (value: unknown, max = 255): string | undefined =>
  typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;

/** The configured provider this token is for: same issuer, and our client id in its audience. */
async function providerFor(
  claims: { iss?: unknown; aud?: unknown },
  providers: ReadonlyMap<string, ProviderClient>,
): Promise<ProviderClient | LogoutTokenRefusal> {
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  let issuerKnown = false;
  for (const provider of providers.values()) {
    let issuer: string;
    try {
      issuer = (await provider.configuration()).serverMetadata().issuer;
    } catch {
      continue;
    }
    if (issuer !== claims.iss) continue;
    issuerKnown = true;
    if (audiences.includes(provider.settings.clientId)) return provider;
  }
  return issuerKnown ? 'wrong_audience' : 'unknown_issuer';
}

/**
 * Verifies a logout token as Back-Channel Logout 1.0 section 2.6 asks: a JWT signed with one of
 * the provider's keys (no `none`), `iss` a configured provider, `aud` our client id, `iat` within
 * the window (and `exp` when present), the back-channel logout event, no `nonce`, a `sid` or a
 * `sub`, and a `jti` not seen before. A token id is remembered only once every check has passed.
 */
export async function verifyLogoutToken(
  token: string,
  providers: ReadonlyMap<string, ProviderClient>,
  seen: LRUCache<string, true>,
  now = Math.floor(Date.now() / 1000),
): Promise<LogoutTokenVerdict> {
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    unverified = decodeJwt(token);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const provider = await providerFor(unverified, providers);
  if (typeof provider === 'string') return { ok: false, reason: provider };
  const name = provider.settings.name;
  let payload: Record<string, unknown>;
  try {
    const keys = await providerKeys(provider);
    ({ payload } = await jwtVerify(token, keys, {
      issuer: unverified.iss as string,
      audience: provider.settings.clientId,
      clockTolerance: 60,
      currentDate: new Date(now * 1000),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', provider: name };
    if (error instanceof joseErrors.JOSEError) return { ok: false, reason: 'bad_signature', provider: name };
    return { ok: false, reason: 'provider_unavailable', provider: name };
  }
  const refuse = (reason: LogoutTokenRefusal): LogoutTokenVerdict => ({ ok: false, reason, provider: name });
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > IAT_WINDOW_SECONDS)
    return refuse('stale_iat');
  const events = payload.events as Record<string, unknown> | undefined;
  const event = events && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return refuse('missing_events');
  if (payload.nonce !== undefined) return refuse('nonce_present');
  const sid = text(payload.sid);
  const sub = text(payload.sub);
  if (sid === undefined && sub === undefined) return refuse('missing_sid_and_sub');
  const jti = text(payload.jti, 512);
  if (jti === undefined) return refuse('missing_jti');
  const key = `${name}\u0000${jti}`;
  if (seen.has(key)) return refuse('replayed_jti');
  seen.set(key, true);
  return { ok: true, provider: name, sid, sub, jti };
}
