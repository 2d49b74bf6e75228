import type { UserinfoDocument } from '../../../contract/userinfo.ts';
import type { PolicyIdentity } from '../policy/input.ts';
import type { RequestScope } from '../request-scope.ts';
import type { AuthRuntime } from './auth-runtime.ts';
import type { Session } from './session.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The preferred_username claim of a user when a header may carry it: a string of at most 256
 * characters without controls (C0, DEL, C1), which could split the header or hide in it; null when none.
 */
export function preferredUsername(identity: PolicyIdentity): string | null {
  const value = identity.claims.preferred_username;
  return headerText(value, 256) ? value : null;
}

/** A string of 1 to `max` characters without controls: fit for a header and a page. */
function headerText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value !== '' && value.length <= max && !CONTROLS.test(value);
}

type Claims = Readonly<Record<string, unknown>>;

/**
 * How a sign-in authenticated the user (the ID token's `amr`) when it is a list of at most 16
 * strings of 1 to 64 characters without controls; null otherwise.
 */
export function amrOf(claims: Claims): string[] | null {
  const amr = claims.amr;
  if (!Array.isArray(amr) || amr.length > 16) return null;
  return amr.every((m) => headerText(m, 64)) ? [...(amr as string[])] : null;
}

/** The class of a sign-in (the ID token's `acr`) when it is a string of 1 to 256 characters without controls; null otherwise. */
export function acrOf(claims: Claims): string | null {
  const acr = claims.acr;
  return headerText(acr, 256) ? acr : null;
}

/**
 * How the user authenticated (`amrOf` their claims), as the identity JWT and the identity
 * document carry it; null for machine callers.
 */
export function authenticationMethods(identity: PolicyIdentity): string[] | null {
  return identity.kind === 'user' ? amrOf(identity.claims) : null;
}

/**
 * The class of the user's sign-in (`acrOf` their claims), as the identity JWT and the identity
 * document carry it; null for machine callers.
 */
export function authenticationClass(identity: PolicyIdentity): string | null {
  return identity.kind === 'user' ? acrOf(identity.claims) : null;
}

/**
 * Who the request's caller is, as the application is told (the identity headers' and JWT's
 * values, groups after `groupsFilter`) and, for a browser session, when it ends: what
 * `/.gatehouse/userinfo` and the session page show. Null without an identity. Read after the
 * authenticate stage, which on the gateway's routes neither refreshes a session nor renews it.
 */
export function identityDocument(
  scope: RequestScope,
  auth: AuthRuntime,
): UserinfoDocument | null | Promise<UserinfoDocument> {
  const identity = scope.identity;
  if (identity === null) return null;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const document = (idleEndsAt: number | null): UserinfoDocument => ({
    sub: identity.sub,
    email: identity.email,
    preferred_username: preferredUsername(identity),
    groups: [...auth.forwardedGroups(identity.groups)],
    idp: identity.idp,
    kind: identity.kind,
    sid: scope.sessionId,
    signedInAt: scope.sessionIssuedAt === null ? null : iso(scope.sessionIssuedAt * 1000),
    expiresAt: iso(scope.credentialEndsAt),
    idleExpiresAt: iso(idleEndsAt),
    authenticatedAt: identity.authTime === undefined ? null : iso(identity.authTime * 1000),
    amr: authenticationMethods(identity),
    acr: authenticationClass(identity),
    groupsLeftOut: scope.groupsLeftOut,
  });
  if (scope.sessionId === null) return document(null);
  // The session the request was authenticated with, again from its cookie: the jar has it cached
  // (the stage before just opened it), so this is a lookup.
  const sealed = auth.sessions.cookies(scope.req.headers.cookie).sealed;
  const opened = sealed === undefined ? undefined : auth.sessions.open(sealed);
  const idleEnd = (session: Session | undefined) =>
    session === undefined
      ? null
      : (auth.sessions.lastSeen(session) + Math.floor(auth.settings.session.idleMs / 1000)) * 1000;
  return opened instanceof Promise ? opened.then((s) => document(idleEnd(s))) : document(idleEnd(opened));
}
