import { randomBytes } from 'node:crypto';
import { TOKEN_CLAIMS } from '../../../contract/policy/token-claims.ts';
import type { PolicyIdentity } from '../policy/input.ts';

/** A signed-in browser session, as sealed in the session cookie. Times are epoch seconds. */
export interface Session {
  readonly v: 1;
  /** Session id: logged on every request line, the key for revocation and caches. */
  readonly sid: string;
  readonly sub: string;
  readonly email: string | null;
  readonly groups: readonly string[];
  /** The identity provider (login method) the user signed in with. */
  readonly idp: string;
  /**
   * The provider's session id (`sid` of the ID token), which a back-channel or front-channel
   * logout names; absent when the provider sends none (and in cookies sealed before Gatehouse
   * kept it).
   */
  readonly psid?: string;
  /** ID token claims beyond the standard ones, for claim selectors. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * When the user authenticated at the provider (the ID token's `auth_time`), for `signedInWithin`
   * policies; absent when the provider did not say. A refresh keeps it: no one authenticated anew.
   */
  readonly at?: number;
  /** Sign-in time and absolute end of the session. */
  readonly iat: number;
  readonly exp: number;
  /** Last time the cookie was renewed by activity (idle timeout is measured from here). */
  readonly seen: number;
  /** When the provider's tokens expire and a refresh is due; null when there is nothing to refresh. */
  readonly refreshAt: number | null;
  readonly refreshToken: string | null;
  /** The ID token, kept as the id_token_hint for the provider's logout. */
  readonly idToken: string | null;
  /**
   * The provider left the user's groups out of the ID token and named where to fetch them instead
   * (a distributed claim; Microsoft Entra ID's groups overage, past 200 groups): group rules cannot
   * match this session, and the access-denied page says why.
   */
  readonly groupsLeftOut?: true;
  /**
   * The browser binding the session was signed in with (https sign-ins; see browser-binding.ts):
   * under a base path its cookie is `__Secure-`, which another host of the parent domain can set,
   * so it is taken only from the browser that holds this binding.
   */
  readonly b?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A value fit for a header and a log line: a string without control characters, capped. */
function cleanString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max && !CONTROL.test(value)
    ? value
    : undefined;
}

/** Identity facts taken from verified ID token claims. */
export interface ClaimedIdentity {
  readonly sub: string;
  readonly email: string | null;
  readonly groups: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
  /** The provider's session id (`sid`), when it sends one. */
  readonly psid?: string;
  /** The groups claim is elsewhere (groupsLeftOutOf). */
  readonly groupsLeftOut?: true;
}

/**
 * Whether the provider left the groups claim out of the token and said so: the claim is absent,
 * and `_claim_names` names it (a distributed or aggregated claim, OpenID Connect Core 5.6.2: what
 * Microsoft Entra ID sends for an account in more than 200 groups), or Entra's `hasgroups` is true.
 */
export function groupsLeftOutOf(claims: Readonly<Record<string, unknown>>, groupsClaim: string): boolean {
  if (claims[groupsClaim] !== undefined) return false;
  const names = claims._claim_names;
  const named =
    names !== null && typeof names === 'object' && !Array.isArray(names) && Object.hasOwn(names, groupsClaim);
  return named || claims.hasgroups === true;
}

/** Why claims cannot make a session. */
export type ClaimsProblem = 'subject_invalid';

/** Reads the identity out of verified ID token claims; refuses a subject unfit for headers and logs. */
export function identityFromClaims(
  claims: Readonly<Record<string, unknown>>,
  groupsClaim: string,
  allowUnverifiedEmail: boolean,
): ClaimedIdentity | ClaimsProblem {
  const sub = cleanString(claims.sub, 255);
  if (sub === undefined) return 'subject_invalid';
  // Only the JSON boolean true verifies an email: "false", 0 or a missing claim do not.
  const verified = claims.email_verified === true || allowUnverifiedEmail;
  const email = verified ? (cleanString(claims.email, 320) ?? null) : null;
  const rawGroups = claims[groupsClaim];
  const groups = Array.isArray(rawGroups)
    ? rawGroups
        .map((g) => cleanString(g, 256))
        .filter((g): g is string => g !== undefined && !g.includes(','))
    : [];
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (!TOKEN_CLAIMS.has(name) && name !== groupsClaim) extra[name] = value;
  }
  const psid = cleanString(claims.sid, 255);
  return {
    sub,
    email,
    groups: groups.slice(0, 256),
    claims: extra,
    ...(psid ? { psid } : {}),
    ...(groupsLeftOutOf(claims, groupsClaim) ? { groupsLeftOut: true as const } : {}),
  };
}

/** Claims that say how the user authenticated: a refresh keeps the sign-in's (see keptFromSignIn). */
const AUTHENTICATION_CLAIMS = ['amr', 'acr'] as const;

/**
 * The ID token's `auth_time` (epoch seconds) when it is a sane one: a whole number not after `now`
 * (a minute of clock skew allowed); undefined otherwise.
 */
export function authTimeOf(
  idClaims: Readonly<Record<string, unknown>> | undefined,
  now: number,
): number | undefined {
  const value = idClaims?.auth_time;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= now + 60
    ? value
    : undefined;
}

/**
 * Refreshed claims with how the user authenticated (`amr`, `acr`) taken from the sign-in: a
 * refresh authenticates no one, and providers leave these out of refreshed tokens or restate them
 * as they please, so a policy requiring a second factor must see what the sign-in proved.
 */
export function keptFromSignIn(
  refreshed: Readonly<Record<string, unknown>>,
  signIn: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...refreshed };
  for (const name of AUTHENTICATION_CLAIMS) {
    if (Object.hasOwn(signIn, name)) claims[name] = signIn[name];
    else delete claims[name];
  }
  return claims;
}

/** A new random session id (128 bits). */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** The identity policies see for a session. */
export function sessionIdentity(session: Session): PolicyIdentity {
  return {
    kind: 'user',
    sub: session.sub,
    email: session.email,
    groups: session.groups,
    idp: session.idp,
    claims: session.claims,
    authTime: session.at,
    serviceTokenId: null,
    serviceAccount: null,
  };
}

/** Checks the shape of an opened session cookie; undefined when it is not a current-format session. */
export function asSession(value: Record<string, unknown>): Session | undefined {
  const v = value as Partial<Session>;
  if (
    v.v !== 1 ||
    typeof v.sid !== 'string' ||
    typeof v.sub !== 'string' ||
    typeof v.idp !== 'string' ||
    typeof v.iat !== 'number' ||
    typeof v.exp !== 'number' ||
    typeof v.seen !== 'number' ||
    !Array.isArray(v.groups) ||
    (v.email !== null && typeof v.email !== 'string') ||
    typeof v.claims !== 'object' ||
    (v.at !== undefined && typeof v.at !== 'number')
  ) {
    return undefined;
  }
  return value as unknown as Session;
}
