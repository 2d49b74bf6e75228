import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { RenderedAuth } from '../../../contract/config/auth-config.ts';
import type { SigningKey } from '../../../contract/keys.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import { singleFlight } from '../../../lib/single-flight.ts';
import type { PolicyIdentity } from '../policy/input.ts';
import { authenticationClass, authenticationMethods } from './identity-document.ts';

const CACHE_LIMIT = 10_000;

/** Signs the identity JWT sent to the application; one signature serves many requests of a caller. */
export interface AssertionSigner {
  /** The cached JWT when it still has more than half its lifetime left, else undefined. */
  cached(key: string, now: number): string | undefined;
  /** Signs a fresh JWT for the identity and caches it under key (a session id or caller id). */
  sign(key: string, identity: PolicyIdentity, sessionId: string | null, now: number): Promise<string>;
}

/**
 * Creates the signer: claims iss, aud, sub, email, groups, idp, sid, auth_time, amr and acr (when the
 * provider said), iat, exp and jti (and type,
 * nbf and a list aud for the cloudflare claim set), signed with the first signing key (its kid in the header) so apps verify it against the JWKS.
 */
export function createAssertionSigner(
  settings: RenderedAuth['assertion'],
  keys: readonly SigningKey[],
): AssertionSigner {
  const key = keys[0];
  if (!key) throw new Error('no signing key');
  // The same for every token of this signer.
  const lifetime = Math.floor(settings.lifetimeMs / 1000);
  const cloudflare = settings.claims === 'cloudflare';
  const audience = cloudflare ? [settings.audience] : settings.audience;
  const header = { alg: key.alg, kid: key.kid, typ: 'JWT' };
  const cache = boundedCache<string, { jwt: string; renewAt: number }>(CACHE_LIMIT);
  /** Signatures under way, each once per cache key. */
  const signing = singleFlight<string, string>();
  const signFresh = async (
    cacheKey: string,
    identity: PolicyIdentity,
    sessionId: string | null,
    now: number,
  ): Promise<string> => {
    const iat = Math.floor(now / 1000);
    const jwt = await new SignJWT({
      email: identity.email ?? undefined,
      groups: [...identity.groups],
      idp: identity.idp ?? undefined,
      sid: sessionId ?? undefined,
      kind: identity.kind,
      // When and how the user authenticated at the provider, when it said (users only).
      auth_time: identity.authTime,
      amr: authenticationMethods(identity) ?? undefined,
      acr: authenticationClass(identity) ?? undefined,
      // A Cloudflare Access application token: type "app", nbf, aud a list.
      ...(cloudflare ? { type: 'app', nbf: iat } : {}),
    })
      .setProtectedHeader(header)
      .setIssuer(settings.issuer)
      .setAudience(audience)
      .setSubject(identity.sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomUUID())
      .sign(key.privateKey);
    cache.set(cacheKey, { jwt, renewAt: now + settings.lifetimeMs / 2 });
    return jwt;
  };

  return {
    cached(cacheKey, now) {
      const hit = cache.get(cacheKey);
      return hit && hit.renewAt > now ? hit.jwt : undefined;
    },
    sign(cacheKey, identity, sessionId, now) {
      // One signature per caller at a time: concurrent requests of a caller whose JWT is missing
      // or due for renewal share it instead of each signing its own.
      return signing(cacheKey, () => signFresh(cacheKey, identity, sessionId, now));
    },
  };
}
