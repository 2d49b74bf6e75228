/** What kind of caller an identity belongs to. */
export type CallerKind = 'user' | 'service-token' | 'service-account';

/** A verified identity as policies see it; produced by authentication, never by request headers. */
export interface PolicyIdentity {
  readonly kind: CallerKind;
  readonly sub: string;
  /** The email address the provider vouches for; null when it has none (or it is unverified). */
  readonly email: string | null;
  readonly groups: readonly string[];
  /** Name of the identity provider the user signed in with (the login method). */
  readonly idp: string | null;
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * When the user last authenticated at the provider (the ID token's `auth_time`), epoch seconds;
   * undefined when the provider did not say, and for machine callers.
   */
  readonly authTime?: number | undefined;
  readonly serviceTokenId: string | null;
  readonly serviceAccount: { readonly namespace: string; readonly name: string } | null;
}

/** Everything a policy decision may depend on, computed once per request. */
export interface PolicyInput {
  /** null until the caller has authenticated. */
  readonly identity: PolicyIdentity | null;
  /** The client IP the request's log line shows: the peer, or the first untrusted X-Forwarded-For hop. */
  readonly clientIp: string;
  /** The private endpoint the connection came through (`aws:vpce-…`); null without one. */
  readonly privateEndpoint: string | null;
  /** The canonical path: exactly the path forwarded to the upstream. */
  readonly path: string;
  readonly method: string;
}
