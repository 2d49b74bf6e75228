import { isLoopbackHost } from '../../lib/net/client-ip.ts';
import { compileHostMatcher } from '../../lib/net/host.ts';
import type { AccessApplication } from '../api/access-application.ts';
import type { AssertionAlgorithm, Authentication, IdentityHeaderProfile } from '../api/authentication.ts';
import { schemaErrors } from '../api/validate.ts';
import { applicationLabel } from '../application-label.ts';
import type { FieldError } from '../errors.ts';
import { keysSecretName } from '../keys.ts';
import {
  type ApplicationKeys,
  ApplicationKeysSchema,
  type RenderedAuth,
  type RenderedProvider,
} from './auth-config.ts';
import { missingSecret, missingSecretKey } from './references.ts';
import { type DurationRange, renderDuration } from './render-duration.ts';

export const DEFAULT_SESSION_COOKIE = '_gatehouse';
export const DEFAULT_SESSION_ABSOLUTE_MS = 12 * 3_600_000;
export const DEFAULT_SESSION_IDLE_MS = 3_600_000;
export const DEFAULT_SCOPES: readonly string[] = ['openid', 'email', 'profile'];
export const DEFAULT_GROUPS_CLAIM = 'groups';
/** Microsoft Graph's global origin, where groups left out of an ID token are listed. */
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';
export const DEFAULT_SERVICE_TOKEN_HEADERS = { id: 'cf-access-client-id', secret: 'cf-access-client-secret' };
export const DEFAULT_ASSERTION_LIFETIME_MS = 120_000;
export const DEFAULT_ASSERTION_HEADER = 'x-gatehouse-jwt-assertion';

type IdentityHeaderNames = RenderedAuth['identityHeaders'];

/** The headers each profile stamps, as the application behind that gateway reads them. */
const HEADER_PROFILES: Record<IdentityHeaderProfile, IdentityHeaderNames> = {
  gatehouse: {
    email: ['x-gatehouse-email'],
    user: ['x-gatehouse-user'],
    groups: ['x-gatehouse-groups'],
    preferredUsername: [],
    assertion: DEFAULT_ASSERTION_HEADER,
  },
  // oauth2-proxy sends X-Forwarded-* upstream (--pass-user-headers) and X-Auth-Request-* to an
  // auth_request proxy (--set-xauthrequest); applications read either.
  'oauth2-proxy': {
    email: ['x-forwarded-email', 'x-auth-request-email'],
    user: ['x-forwarded-user', 'x-auth-request-user'],
    groups: ['x-forwarded-groups', 'x-auth-request-groups'],
    preferredUsername: ['x-forwarded-preferred-username', 'x-auth-request-preferred-username'],
    assertion: DEFAULT_ASSERTION_HEADER,
  },
  // Cloudflare Access names only the email and its JWT; the subject and groups go as Gatehouse's.
  cloudflare: {
    email: ['cf-access-authenticated-user-email'],
    user: ['x-gatehouse-user'],
    groups: ['x-gatehouse-groups'],
    preferredUsername: [],
    assertion: 'cf-access-jwt-assertion',
  },
};

/** The identity JWT's algorithm: the one set, else RS256 for the cloudflare profile (as Cloudflare signs), else ES256. */
export function assertionAlgorithm(auth: Authentication | undefined): AssertionAlgorithm {
  return auth?.assertion?.algorithm ?? (auth?.identityHeaders?.profile === 'cloudflare' ? 'RS256' : 'ES256');
}

/** Secret data by Secret name, from the application's namespace (string values). */
export type SecretsByName = ReadonlyMap<string, Readonly<Record<string, string>>>;

type At = (field: string) => string;

const SESSION_RANGE: DurationRange = { minMs: 1, maxMs: 30 * 86_400_000, label: '1ms and 720h' };
const ASSERTION_RANGE: DurationRange = { minMs: 1000, maxMs: 3_600_000, label: '1s and 1h' };

/**
 * One segment of a base path: what a path segment may hold but percent-encoding and `;` (which
 * would end the session cookie's Path attribute), and not `.` or `..`.
 */
const BASE_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,=:@-]+$/;

/**
 * The origin of externalUrl, and its path (`/grafana`, without a trailing slash; `` at the root):
 * an application served under a path of a shared host has the gateway's routes and cookies there.
 */
function externalUrlParts(
  auth: Authentication,
  hosts: readonly string[],
  at: At,
  errors: FieldError[],
): { readonly origin: string; readonly basePath: string } | null {
  const field = at('spec.authentication.externalUrl');
  if (auth.externalUrl === undefined) {
    if ((auth.identityProviders ?? []).length > 0)
      errors.push({ path: field, message: 'is required with identityProviders' });
    return null;
  }
  const url = new URL(auth.externalUrl);
  if (!compileHostMatcher(hosts)(url.host))
    errors.push({ path: field, message: `host ${url.host} is not one of spec.hosts` });
  // The path as written (the schema's pattern has it after the host), before URL normalises it.
  const path = /^https?:\/\/[^/?#]+(\/[^?#]*)?$/.exec(auth.externalUrl)?.[1] ?? '';
  const basePath = path.endsWith('/') ? path.slice(0, -1) : path;
  const segments = basePath.split('/').slice(1);
  if (
    basePath !== '' &&
    (segments.some((s) => !BASE_SEGMENT.test(s) || s === '.' || s === '..' || s === '.gatehouse') ||
      url.pathname.replace(/\/$/, '') !== basePath)
  ) {
    errors.push({
      path: field,
      message: `path ${JSON.stringify(path)} must be plain segments (letters, digits and -._~!$&'()*+,=:@; no percent-encoding or ;, no . or .. or .gatehouse), e.g. https://tools.example.com/grafana`,
    });
  }
  return { origin: url.origin, basePath };
}

/** A URL the sidecar sends a provider's secrets and tokens to (an issuer, Graph): https, or http on loopback. */
function checkProviderUrl(value: string, path: string, errors: FieldError[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    errors.push({ path, message: `is not a URL (got ${JSON.stringify(value)})` });
    return;
  }
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname))
    errors.push({ path, message: 'must use https (http is accepted on loopback only)' });
}

function providers(auth: Authentication, secrets: SecretsByName, at: At, errors: FieldError[]) {
  const names = new Set<string>();
  return (auth.identityProviders ?? []).map((p, i): RenderedProvider => {
    const field = (f: string) => at(`spec.authentication.identityProviders[${i}].${f}`);
    if (names.has(p.name)) errors.push({ path: field('name'), message: `${p.name} is listed twice` });
    names.add(p.name);
    checkProviderUrl(p.issuer, field('issuer'), errors);
    let clientSecret: string | null = null;
    if (p.clientSecretRef) {
      const { name, key } = p.clientSecretRef;
      const secret = secrets.get(name);
      if (!secret) errors.push({ path: field('clientSecretRef.name'), message: missingSecret(name) });
      else if (!secret[key])
        errors.push({ path: field('clientSecretRef.key'), message: missingSecretKey(name, key) });
      else clientSecret = secret[key];
    }
    const overage = p.groupsOverage;
    const graphUrl = overage ? (overage.graphUrl ?? DEFAULT_GRAPH_URL) : undefined;
    if (graphUrl !== undefined) checkProviderUrl(graphUrl, field('groupsOverage.graphUrl'), errors);
    const scopes = ['openid', ...(p.scopes ?? DEFAULT_SCOPES).filter((s) => s !== 'openid')];
    return {
      name: p.name,
      displayName: p.displayName ?? p.name,
      issuer: p.issuer.replace(/\/$/, ''),
      clientId: p.clientId,
      clientSecret,
      scopes: [...new Set(scopes)],
      groupsClaim: p.groupsClaim ?? DEFAULT_GROUPS_CLAIM,
      allowUnverifiedEmail: p.allowUnverifiedEmail ?? false,
      ...(graphUrl !== undefined
        ? { groupsOverage: { graphUrl, groupField: overage?.groupField ?? 'id' } }
        : {}),
    };
  });
}

function serviceTokens(auth: Authentication, at: At, errors: FieldError[]): RenderedAuth['serviceTokens'] {
  const settings = auth.serviceTokens;
  const ids = new Set<string>();
  const tokens = (settings?.tokens ?? []).map((t, i) => {
    if (ids.has(t.id))
      errors.push({
        path: at(`spec.authentication.serviceTokens.tokens[${i}].id`),
        message: `${t.id} is listed twice`,
      });
    ids.add(t.id);
    const expiresAt = t.expiresAt === undefined ? null : Date.parse(t.expiresAt);
    if (expiresAt !== null && !Number.isFinite(expiresAt)) {
      errors.push({
        path: at(`spec.authentication.serviceTokens.tokens[${i}].expiresAt`),
        message: 'is not an RFC 3339 time',
      });
    }
    return { id: t.id, sha256: t.secretHash.slice('sha256:'.length), expiresAt };
  });
  const clientIdHeader = (settings?.clientIdHeader ?? DEFAULT_SERVICE_TOKEN_HEADERS.id).toLowerCase();
  const clientSecretHeader = (
    settings?.clientSecretHeader ?? DEFAULT_SERVICE_TOKEN_HEADERS.secret
  ).toLowerCase();
  if (clientIdHeader === clientSecretHeader) {
    errors.push({
      path: at('spec.authentication.serviceTokens.clientSecretHeader'),
      message: 'must differ from clientIdHeader',
    });
  }
  return { clientIdHeader, clientSecretHeader, tokens };
}

function identityHeaders(
  auth: Authentication,
  at: At,
  errors: FieldError[],
): RenderedAuth['identityHeaders'] {
  const settings = auth.identityHeaders ?? {};
  const profile = HEADER_PROFILES[settings.profile ?? 'gatehouse'];
  const names: IdentityHeaderNames = {
    email: settings.email ? [settings.email.toLowerCase()] : profile.email,
    user: settings.user ? [settings.user.toLowerCase()] : profile.user,
    groups: settings.groups ? [settings.groups.toLowerCase()] : profile.groups,
    preferredUsername: profile.preferredUsername,
    assertion: (settings.assertion ?? profile.assertion).toLowerCase(),
    ...(settings.groupsFilter ? { groupsFilter: [...new Set(settings.groupsFilter)] } : {}),
  };
  const all = [...names.email, ...names.user, ...names.groups, ...names.preferredUsername, names.assertion];
  for (const [i, pattern] of (settings.groupsFilter ?? []).entries()) {
    if (pattern.includes(','))
      errors.push({
        path: at(`spec.authentication.identityHeaders.groupsFilter[${i}]`),
        message: 'must not contain a comma (groups with one never reach the application)',
      });
  }
  const twice = all.find((name, i) => all.indexOf(name) !== i);
  if (twice !== undefined) {
    errors.push({
      path: at('spec.authentication.identityHeaders'),
      message: `${twice} would carry two things: email, user, groups and assertion need different header names`,
    });
  }
  return names;
}

/** Renders spec.authentication into the sidecar's auth settings; secrets and keys are resolved here. */
export function renderAuth(
  application: AccessApplication,
  secrets: SecretsByName,
  at: At,
  errors: FieldError[],
): RenderedAuth {
  const auth = application.spec.authentication ?? {};
  const label = applicationLabel(application.metadata);
  const external = externalUrlParts(auth, application.spec.hosts, at, errors);
  const origin = external?.origin ?? null;
  const basePath = external?.basePath ?? '';
  const absoluteMs = renderDuration(
    auth.session?.absoluteLifetime,
    DEFAULT_SESSION_ABSOLUTE_MS,
    'spec.authentication.session.absoluteLifetime',
    at,
    errors,
    SESSION_RANGE,
  );
  const idleMs = renderDuration(
    auth.session?.idleTimeout,
    DEFAULT_SESSION_IDLE_MS,
    'spec.authentication.session.idleTimeout',
    at,
    errors,
    SESSION_RANGE,
  );
  const lifetimeMs = renderDuration(
    auth.assertion?.lifetime,
    DEFAULT_ASSERTION_LIFETIME_MS,
    'spec.authentication.assertion.lifetime',
    at,
    errors,
    ASSERTION_RANGE,
  );
  const sa = auth.serviceAccounts;
  return {
    externalOrigin: origin,
    ...(basePath === '' ? {} : { basePath }),
    providers: providers(auth, secrets, at, errors),
    session: {
      cookieName: auth.session?.cookieName ?? DEFAULT_SESSION_COOKIE,
      absoluteMs,
      idleMs: Math.min(idleMs, absoluteMs),
      secure: origin?.startsWith('https:') ?? false,
    },
    serviceTokens: serviceTokens(auth, at, errors),
    serviceAccounts: sa
      ? {
          issuer: sa.issuer,
          jwksUrl: sa.jwksUrl,
          audiences: [...sa.audiences],
          caFile: sa.caFile ?? null,
          bearerTokenFile: sa.bearerTokenFile ?? null,
        }
      : null,
    identityHeaders: identityHeaders(auth, at, errors),
    assertion: {
      issuer: origin === null ? `gatehouse:${label}` : origin + basePath,
      audience: auth.assertion?.audience ?? `gatehouse:${label}`,
      algorithm: assertionAlgorithm(auth),
      claims: auth.identityHeaders?.profile === 'cloudflare' ? 'cloudflare' : 'gatehouse',
      lifetimeMs,
    },
  };
}

/** True when the application authenticates callers at all, and so needs keys. */
export function authenticates(auth: RenderedAuth): boolean {
  return auth.providers.length > 0 || auth.serviceTokens.tokens.length > 0 || auth.serviceAccounts !== null;
}

/** Checks the keys an authenticating application needs; reports where they should have come from. */
export function renderKeys(
  application: AccessApplication,
  auth: RenderedAuth,
  keys: unknown,
  at: At,
  errors: FieldError[],
): ApplicationKeys | null {
  if (!authenticates(auth)) return null;
  const where = `Secret ${keysSecretName(application.metadata.name)}`;
  if (keys === undefined) {
    errors.push({ path: at('spec.authentication'), message: `needs keys (${where})` });
    return null;
  }
  const problems = schemaErrors(ApplicationKeysSchema, keys, `${where} keys`);
  if (problems.length > 0) {
    errors.push(...problems);
    return null;
  }
  const valid = keys as ApplicationKeys;
  if (valid.signing[0]?.alg !== auth.assertion.algorithm) {
    errors.push({
      path: `${where} keys.signing[0].alg`,
      message: `must be ${auth.assertion.algorithm}, the assertion algorithm`,
    });
  }
  return valid;
}
