import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, customFetch, errors, jwtVerify } from 'jose';
import type { RenderedAuth } from '../../../contract/config/auth-config.ts';
import type { SERVICE_ACCOUNT_FAILURES } from '../../../contract/log-events.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import { boundedResponse } from '../../../lib/http/bounded-response.ts';
import { Agent } from '../../../lib/http/undici-core.ts';
import { undiciPackage } from '../../../lib/http/undici-package.ts';
import type { PolicyIdentity } from '../policy/input.ts';
import { serviceAccountIdentity } from './machine-identity.ts';

/** Why a ServiceAccount token was refused. */
export type ServiceAccountFailure = (typeof SERVICE_ACCOUNT_FAILURES)[number];

export type ServiceAccountResult =
  | { readonly ok: true; readonly identity: PolicyIdentity; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: ServiceAccountFailure; readonly detail: string };

/** Verifies a bearer token as a Kubernetes ServiceAccount token for this application. */
export type ServiceAccountVerifier = (token: string) => Promise<ServiceAccountResult>;

const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
const CACHE_LIMIT = 10_000;

function failure(error: unknown): ServiceAccountResult {
  const detail = (error as Error).message?.slice(0, 200) ?? 'error';
  if (error instanceof errors.JWTExpired) return { ok: false, reason: 'token_expired', detail };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return { ok: false, reason: 'token_wrong_issuer', detail };
    if (error.claim === 'aud') return { ok: false, reason: 'token_wrong_audience', detail };
    return { ok: false, reason: 'token_malformed', detail };
  }
  if (error instanceof errors.JWKSNoMatchingKey) return { ok: false, reason: 'token_unknown_key', detail };
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return { ok: false, reason: 'token_bad_signature', detail };
  if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
    return { ok: false, reason: 'issuer_keys_unavailable', detail };
  }
  return { ok: false, reason: 'token_malformed', detail };
}

/** The most the issuer's key set may hold (a few kilobytes as a rule): a longer answer is cut and refused. */
const JWKS_MAX_BYTES = 1024 * 1024;

/**
 * Compiles the verifier: signature against the issuer's JWKS (fetched with the configured CA and
 * bearer token, cached, refetched at most every 30 s on an unknown key), then issuer, audience,
 * expiry and the system:serviceaccount subject. Verified tokens are cached until they expire.
 */
export function createServiceAccountVerifier(
  settings: NonNullable<RenderedAuth['serviceAccounts']>,
): ServiceAccountVerifier {
  const dispatcher = settings.caFile
    ? new Agent({ connect: { ca: readFileSync(settings.caFile) } })
    : undefined;
  const jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    // undici's fetch (the whole package) loads with the first key fetch, not with every sidecar.
    [customFetch]: async (url: string, init: RequestInit) => {
      const { fetch } = await undiciPackage();
      const headers: Record<string, string> = { ...Object.fromEntries(new Headers(init.headers)) };
      if (settings.bearerTokenFile) {
        headers.authorization = `Bearer ${readFileSync(settings.bearerTokenFile, 'utf8').trim()}`;
      }
      const response = (await fetch(url, {
        method: 'GET',
        headers,
        ...(init.signal ? { signal: init.signal } : {}),
        ...(dispatcher ? { dispatcher } : {}),
      })) as unknown as Response;
      return boundedResponse(response, url, JWKS_MAX_BYTES);
    },
  });
  const verified = boundedCache<string, { identity: PolicyIdentity; expiresAt: number }>(CACHE_LIMIT);
  return async (token) => {
    const hit = verified.get(token);
    if (hit && hit.expiresAt > Date.now()) return { ok: true, ...hit };
    if (hit) verified.delete(token);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: settings.issuer,
        audience: settings.audiences,
        algorithms: ['RS256', 'ES256', 'RS384', 'ES384', 'RS512', 'PS256'],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 5,
      }));
    } catch (error) {
      return failure(error);
    }
    const match = SUBJECT.exec(String(payload.sub));
    if (!match)
      return {
        ok: false,
        reason: 'token_not_service_account',
        detail: 'subject is not system:serviceaccount:<ns>:<name>',
      };
    const namespace = match[1] as string;
    const name = match[3] as string;
    const identity = serviceAccountIdentity(namespace, name);
    const expiresAt = Number(payload.exp) * 1000;
    verified.set(token, { identity, expiresAt });
    return { ok: true, identity, expiresAt };
  };
}
