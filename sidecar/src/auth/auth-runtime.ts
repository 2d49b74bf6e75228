import type { LRUCache } from 'lru-cache';
import type { ApplicationKeys, RenderedAuth } from '../../../contract/config/auth-config.ts';
import { importSigningKeys } from '../../../contract/keys.ts';
import { ConcurrentShare } from '../../../lib/concurrent-share.ts';
import { type AssertionSigner, createAssertionSigner } from './assertion.ts';
import { type GatewayPaths, gatewayPaths } from './gateway-paths.ts';
import { compileGroupsFilter, type GroupsFilter } from './groups-filter.ts';
import { createSeenTokenIds } from './logout-token.ts';
import { type ProviderClient, providerClient } from './oidc-client.ts';
import { createProviderCalls, type ProviderCalls } from './provider-calls.ts';
import { createSealer, type Sealer } from './sealed.ts';
import { createServiceAccountVerifier, type ServiceAccountVerifier } from './service-accounts.ts';
import { createServiceTokenVerifier, type ServiceTokenVerifier } from './service-tokens.ts';
import {
  createSessionJar,
  DEFAULT_MAX_HEADER_BYTES,
  type SessionJar,
  signInChunksFor,
} from './session-jar.ts';

/**
 * Back-channel logouts one client address (an identity provider) may have in progress at once,
 * and the sidecar in all. Each reads a body of up to 16 KiB at the body's minimum rate (20 s
 * before the first byte is due): without a bound, one address that sent heads and trickled their
 * bodies held every connection the sidecar may open, and new clients were closed on accept. The
 * total is high: a logout refused is lost unless its provider retries, so strangers at other
 * addresses should need many of them to reach it.
 */
export const BACKCHANNEL_LOGOUTS_PER_ADDRESS = 16;
export const BACKCHANNEL_LOGOUTS_IN_ALL = 1_024;

/** Everything authentication needs at request time, compiled once per config. */
export interface AuthRuntime {
  readonly settings: RenderedAuth;
  /** Host (and port) of externalUrl, where sign-in runs; null without identity providers. */
  readonly externalHost: string | null;
  /** The gateway's routes and cookie paths, under externalUrl's path. */
  readonly paths: GatewayPaths;
  readonly providers: ReadonlyMap<string, ProviderClient>;
  /** The calls to identity providers (code exchanges, refreshes): the sidecar's, kept across reloads. */
  readonly providerCalls: ProviderCalls;
  readonly sealer: Sealer;
  /** The ids of the cookie keys that open sessions (a session sealed under another is no longer one). */
  readonly cookieKids: ReadonlySet<string>;
  readonly sessions: SessionJar;
  /** The groups of a caller that reach the application (identityHeaders.groupsFilter). */
  readonly forwardedGroups: GroupsFilter;
  readonly serviceTokens: ServiceTokenVerifier | null;
  /**
   * The service tokens accepted, by id: the same map as the previous runtime's while the tokens
   * are unchanged, so a reload that changes none (a sign-out) looks at no open exchange's token.
   */
  readonly serviceTokenById: ReadonlyMap<string, RenderedAuth['serviceTokens']['tokens'][number]>;
  readonly serviceAccounts: ServiceAccountVerifier | null;
  readonly assertions: AssertionSigner;
  /** Back-channel logout token ids seen (replays refused); kept across reloads. */
  readonly logoutTokenIds: LRUCache<string, true>;
  /** Back-channel logouts in progress, by client address; kept across reloads. */
  readonly backchannelLogouts: ConcurrentShare;
  /** The JWKS document (public signing keys, current first), serialised once. */
  readonly jwks: string;
  /**
   * Header names never forwarded besides the built-in identity headers: those this application
   * stamps (custom names included) and the service token headers Gatehouse consumes.
   */
  readonly withheldHeaders: readonly string[];
  /** The request head limit of the sidecar (`--max-header-size`), which bounds what cookies may take. */
  readonly maxHeaderBytes: number;
  /** What the session jar and the ServiceAccount verifier were built from, to reuse them across reloads. */
  readonly builtFrom: {
    readonly sessions: string;
    readonly serviceAccounts: string;
    readonly serviceTokens: string;
  };
}

/**
 * Compiles the auth runtime; null when the application authenticates nobody. Throws on unusable
 * keys. The previous runtime's session jar (its cache, logged-out sessions and renewals) and
 * ServiceAccount verifier (its JWKS cache) are kept when a reload did not change what they are
 * built from, so a policy change neither forgets a logout nor refetches the issuer keys.
 */
export function compileAuthRuntime(
  settings: RenderedAuth,
  keys: ApplicationKeys | null,
  previous?: AuthRuntime | null,
  providerCalls?: ProviderCalls,
  maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES,
): AuthRuntime | null {
  if (keys === null) return null;
  const signing = importSigningKeys(keys.signing);
  const builtFrom = {
    sessions: JSON.stringify([settings.session, keys.cookie, settings.basePath ?? '']),
    serviceAccounts: JSON.stringify(settings.serviceAccounts),
    serviceTokens: JSON.stringify(settings.serviceTokens.tokens),
  };
  const sameSessions = previous?.builtFrom.sessions === builtFrom.sessions ? previous : undefined;
  const sealer = sameSessions?.sealer ?? createSealer(keys.cookie);
  const paths = gatewayPaths(settings.basePath ?? '');
  const sessions =
    sameSessions?.sessions ??
    createSessionJar(
      settings.session,
      sealer,
      undefined,
      signInChunksFor(maxHeaderBytes),
      paths.sessionCookie,
    );
  const sameVerifier =
    previous?.builtFrom.serviceAccounts === builtFrom.serviceAccounts ? previous : undefined;
  let serviceAccounts = sameVerifier?.serviceAccounts ?? null;
  if (!sameVerifier && settings.serviceAccounts)
    serviceAccounts = createServiceAccountVerifier(settings.serviceAccounts);
  const h = settings.identityHeaders;
  return {
    settings,
    externalHost: settings.externalOrigin === null ? null : new URL(settings.externalOrigin).host,
    paths,
    providers: new Map(settings.providers.map((p) => [p.name, providerClient(p)])),
    providerCalls: providerCalls ?? previous?.providerCalls ?? createProviderCalls(),
    sealer,
    cookieKids: sameSessions?.cookieKids ?? new Set(keys.cookie.map((k) => k.kid)),
    sessions,
    forwardedGroups: compileGroupsFilter(h.groupsFilter),
    serviceTokens:
      settings.serviceTokens.tokens.length > 0 ? createServiceTokenVerifier(settings.serviceTokens) : null,
    serviceTokenById:
      previous?.builtFrom.serviceTokens === builtFrom.serviceTokens
        ? previous.serviceTokenById
        : new Map(settings.serviceTokens.tokens.map((t) => [t.id, t])),
    serviceAccounts,
    assertions: createAssertionSigner(settings.assertion, signing),
    logoutTokenIds: previous?.logoutTokenIds ?? createSeenTokenIds(),
    backchannelLogouts:
      previous?.backchannelLogouts ??
      new ConcurrentShare(BACKCHANNEL_LOGOUTS_PER_ADDRESS, BACKCHANNEL_LOGOUTS_IN_ALL),
    jwks: JSON.stringify({ keys: signing.map((k) => k.publicJwk) }),
    withheldHeaders: [
      ...h.email,
      ...h.user,
      ...h.groups,
      ...h.preferredUsername,
      h.assertion,
      settings.serviceTokens.clientIdHeader,
      settings.serviceTokens.clientSecretHeader,
    ],
    maxHeaderBytes,
    builtFrom,
  };
}
