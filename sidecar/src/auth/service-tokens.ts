import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RenderedAuth } from '../../../contract/config/auth-config.ts';
import type { SERVICE_TOKEN_FAILURES } from '../../../contract/log-events.ts';

/** Why a service token was refused; logged with the claimed token id, never the secret. */
export type ServiceTokenFailure = (typeof SERVICE_TOKEN_FAILURES)[number];

export type ServiceTokenResult =
  /** `expiresAt`: when the token stops being accepted (epoch ms); null when never. */
  | { readonly ok: true; readonly tokenId: string; readonly expiresAt: number | null }
  | { readonly ok: false; readonly reason: ServiceTokenFailure; readonly tokenId: string | null };

/** Checks a client id and secret pair against the configured tokens. */
export type ServiceTokenVerifier = (
  id: string | undefined,
  secret: string | undefined,
  now: number,
) => ServiceTokenResult;

const ID_PATTERN = /^[A-Za-z0-9][-._A-Za-z0-9]{0,127}$/;

/** The SHA-256 digest of a client secret, as stored. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** A new service token: a random secret (printed once) and the hash to configure. */
export function newServiceToken(): { secret: string; secretHash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, secretHash: `sha256:${hashSecret(secret).toString('hex')}` };
}

/**
 * Compiles the verifier. Secrets are compared as SHA-256 digests in constant time, and an unknown
 * id costs the same comparison, so timing tells nothing about which ids exist.
 */
export function createServiceTokenVerifier(settings: RenderedAuth['serviceTokens']): ServiceTokenVerifier {
  const tokens = new Map(
    settings.tokens.map(
      (t) => [t.id, { digest: Buffer.from(t.sha256, 'hex'), expiresAt: t.expiresAt }] as const,
    ),
  );
  const decoy = randomBytes(32);
  return (id, secret, now) => {
    if (id === undefined || secret === undefined || secret === '' || !ID_PATTERN.test(id)) {
      return {
        ok: false,
        reason: 'token_incomplete',
        tokenId: id !== undefined && ID_PATTERN.test(id) ? id : null,
      };
    }
    const token = tokens.get(id);
    const matches = timingSafeEqual(hashSecret(secret), token?.digest ?? decoy);
    if (!token) return { ok: false, reason: 'token_unknown', tokenId: id };
    if (!matches) return { ok: false, reason: 'token_secret_mismatch', tokenId: id };
    if (token.expiresAt !== null && token.expiresAt <= now)
      return { ok: false, reason: 'token_expired', tokenId: id };
    return { ok: true, tokenId: id, expiresAt: token.expiresAt };
  };
}
