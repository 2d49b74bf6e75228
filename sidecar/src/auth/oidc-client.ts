import { createRemoteJWKSet, customFetch } from 'jose';
import type * as oidc from 'openid-client';
import type { RenderedProvider } from '../../../contract/config/auth-config.ts';
import { boundedResponse } from '../../../lib/http/bounded-response.ts';
import { isLoopbackHost } from '../../../lib/net/client-ip.ts';
import { type EgressProxy, egressProxyOf } from './egress-proxy.ts';
import { providerCallSignal } from './provider-calls.ts';

/** The environment's egress proxy, read once (egressProxyOf). */
let proxy: EgressProxy | null | undefined;
export const egressProxy = (): EgressProxy | null => {
  proxy ??= egressProxyOf();
  return proxy;
};

/** Seconds allowed for each call to a provider (discovery, token, refresh). */
export const PROVIDER_TIMEOUT_SECONDS = 10;
/**
 * The most an answer of a provider may hold (discovery, keys, token, userinfo): a few kilobytes
 * as a rule, tens with many groups; past it the call fails as the provider's (provider_unavailable).
 */
export const PROVIDER_ANSWER_MAX_BYTES = 1024 * 1024;
/** After a failed discovery, the next attempt waits at least this long (no hammering a down provider). */
export const DISCOVERY_RETRY_MS = 5_000;

/** One OpenID Provider: its settings and its discovered metadata (fetched once, shared across reloads). */
export interface ProviderClient {
  readonly settings: RenderedProvider;
  configuration(): Promise<oidc.Configuration>;
}

interface Discovery {
  readonly promise: Promise<oidc.Configuration>;
  failedAt: number | null;
}

const discoveries = new Map<string, Discovery>();

/**
 * openid-client, loaded with the first sign-in, refresh or sign-out that needs a provider: most
 * requests carry a session or a token and never do, so a sidecar does not load it to start.
 */
let openidClient: Promise<typeof oidc> | undefined;
const openid = (): Promise<typeof oidc> => {
  openidClient ??= import('openid-client');
  return openidClient;
};

async function discover(settings: RenderedProvider): Promise<oidc.Configuration> {
  const oidc = await openid();
  const issuer = new URL(settings.issuer);
  const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
  const auth = settings.clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(settings.clientSecret);
  // ID token signatures are verified against the provider JWKS even though the token comes
  // straight from the token endpoint (openid-client skips that by default, as OIDC Core allows).
  const execute = insecure
    ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks]
    : [oidc.enableNonRepudiationChecks];
  const config = await oidc.discovery(issuer, settings.clientId, undefined, auth, {
    timeout: PROVIDER_TIMEOUT_SECONDS,
    execute,
    // Discovery's fetch, and the configuration's for every later call.
    [oidc.customFetch]: fetchForCall,
  });
  return config;
}

/**
 * The fetch of every call to a provider (discovery, token, userinfo, keys): besides the provider
 * timeout, it ends when the provider call it runs in is cancelled (its client left, or the
 * shutdown grace ended), so the provider's connection and the call's turn are freed at once; and
 * its answer is cut at PROVIDER_ANSWER_MAX_BYTES.
 */
export async function fetchForCall(
  url: string,
  init: oidc.CustomFetchOptions | RequestInit,
): Promise<Response> {
  const cancelled = providerCallSignal();
  const signal =
    cancelled === undefined
      ? init.signal
      : init.signal
        ? AbortSignal.any([init.signal, cancelled])
        : cancelled;
  const request = { ...(init as RequestInit), ...(signal ? { signal } : {}) };
  const proxy = egressProxy();
  const response = proxy ? await proxy.fetch(url, request) : await fetch(url, request);
  return boundedResponse(response, url, PROVIDER_ANSWER_MAX_BYTES);
}

/** The client for a provider; discovery is lazy, cached by settings, and retried after failures. */
export function providerClient(settings: RenderedProvider): ProviderClient {
  const key = JSON.stringify(settings);
  return {
    settings,
    configuration() {
      const known = discoveries.get(key);
      if (known && (known.failedAt === null || Date.now() - known.failedAt < DISCOVERY_RETRY_MS)) {
        return known.promise;
      }
      const entry: Discovery = { promise: discover(settings), failedAt: null };
      entry.promise.catch(() => {
        entry.failedAt = Date.now();
      });
      discoveries.set(key, entry);
      return entry.promise;
    },
  };
}

const remoteKeys = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * The provider's signing keys (its jwks_uri), fetched when first needed and cached by jose
 * (refetched on an unknown key id, at most every 30 s); shared across reloads.
 */
export async function providerKeys(provider: ProviderClient): Promise<ReturnType<typeof createRemoteJWKSet>> {
  const config = await provider.configuration();
  const uri = config.serverMetadata().jwks_uri;
  if (!uri) throw new Error('the provider publishes no jwks_uri');
  let keys = remoteKeys.get(uri);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: PROVIDER_TIMEOUT_SECONDS * 1000,
      [customFetch]: fetchForCall,
    });
    remoteKeys.set(uri, keys);
  }
  return keys;
}

/** The PKCE, state and nonce values of one sign-in, kept sealed in the login cookie. */
export interface LoginSecrets {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

/** Fresh state, nonce and PKCE verifier. */
export async function newLoginSecrets(): Promise<LoginSecrets> {
  const oidc = await openid();
  return { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
}

/** The provider's authorization URL for a sign-in (code flow, PKCE S256, state, nonce). */
export async function authorizationUrl(
  config: oidc.Configuration,
  settings: RenderedProvider,
  redirectUri: string,
  secrets: LoginSecrets,
  maxAge?: number,
  acrValues: readonly string[] = [],
): Promise<URL> {
  const oidc = await openid();
  return oidc.buildAuthorizationUrl(config, {
    ...(maxAge !== undefined ? { max_age: String(maxAge) } : {}),
    ...(acrValues.length > 0 ? { acr_values: acrValues.join(' ') } : {}),
    redirect_uri: redirectUri,
    scope: settings.scopes.join(' '),
    response_type: 'code',
    code_challenge: await oidc.calculatePKCECodeChallenge(secrets.verifier),
    code_challenge_method: 'S256',
    state: secrets.state,
    nonce: secrets.nonce,
  });
}

export type { Configuration as ProviderConfiguration } from 'openid-client';

/** openid-client's authorization code grant (the callback's code for tokens, checked). */
export async function authorizationCodeGrant(
  ...args: Parameters<typeof oidc.authorizationCodeGrant>
): ReturnType<typeof oidc.authorizationCodeGrant> {
  return (await openid()).authorizationCodeGrant(...args);
}

/** openid-client's refresh token grant. */
export async function refreshTokenGrant(
  ...args: Parameters<typeof oidc.refreshTokenGrant>
): ReturnType<typeof oidc.refreshTokenGrant> {
  return (await openid()).refreshTokenGrant(...args);
}

/** openid-client's RP-initiated logout URL. */
export async function buildEndSessionUrl(...args: Parameters<typeof oidc.buildEndSessionUrl>): Promise<URL> {
  return (await openid()).buildEndSessionUrl(...args);
}

/**
 * The verified ID token claims completed with the provider's userinfo (when it has a userinfo
 * endpoint and an access token was issued): many providers put email or groups only there.
 * Userinfo for another subject is refused by openid-client.
 */
export async function userClaims(
  config: oidc.Configuration,
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  known?: { readonly sub: string },
): Promise<Record<string, unknown> | undefined> {
  const idClaims = tokens.claims();
  const sub = idClaims?.sub ?? known?.sub;
  if (sub === undefined) return undefined;
  if (!config.serverMetadata().userinfo_endpoint || !tokens.access_token) return idClaims;
  const info = await (await openid()).fetchUserInfo(config, tokens.access_token, sub);
  return { ...info, ...(idClaims ?? {}), sub };
}
