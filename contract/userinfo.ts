import Type, { type Static } from 'typebox';
import { StringEnum } from './api/schema-helpers.ts';
import { Nullable } from './log-line.ts';

/**
 * The identity document a sidecar answers at `<base>/.gatehouse/userinfo`: who the application is
 * told the caller is, as its own scripts may read it. A public contract for application owners:
 * authentication.md's table is generated from it, and tests check real answers against it. Field
 * names follow the identity JWT's claims.
 */
export const UserinfoDocument = Type.Object(
  {
    sub: Type.String({ description: 'The subject, as in the identity JWT and the user header.' }),
    email: Nullable(Type.String(), 'The verified email, as in the JWT; null when there is none.'),
    preferred_username: Nullable(
      Type.String(),
      "The ID token's `preferred_username` when a header could carry it (the `oauth2-proxy` profile's header); null otherwise and for machine callers.",
    ),
    groups: Type.Array(Type.String(), {
      description:
        'The groups the application is sent (after `identityHeaders.groupsFilter`), as in the JWT.',
    }),
    idp: Nullable(Type.String(), 'The identity provider the user signed in with; null for machine callers.'),
    kind: StringEnum(['user', 'service-token', 'service-account'] as const, {
      description: '`user`, `service-token` or `service-account`, as in the JWT.',
    }),
    sid: Nullable(
      Type.String(),
      'The session id (users): `sessionId` of the log lines, what `gatehouse revoke --session` takes; null for machine callers.',
    ),
    signedInAt: Nullable(Type.String(), 'When the session signed in (RFC 3339); null for machine callers.'),
    expiresAt: Nullable(
      Type.String(),
      "The session's absolute end, a ServiceAccount token's or a service token's expiry (RFC 3339); null for a service token without one.",
    ),
    idleExpiresAt: Nullable(
      Type.String(),
      'When the session ends unless the application sees a request of it (RFC 3339); null for machine callers.',
    ),
    authenticatedAt: Nullable(
      Type.String(),
      "When the user last authenticated at the identity provider (the ID token's `auth_time`, RFC 3339), as `signedInWithin` policies read it and the JWT's `auth_time` carries it; null when the provider did not say, and for machine callers.",
    ),
    amr: Nullable(
      Type.Array(Type.String()),
      'How the user authenticated (the ID token\'s `amr`, e.g. `["pwd", "mfa"]`), as the JWT\'s `amr` carries it; null when the provider did not say, and for machine callers.',
    ),
    acr: Nullable(
      Type.String(),
      "The class of the user's sign-in (the ID token's `acr`, e.g. `phr`), as `acrValues` policies read it and the JWT's `acr` carries it; null when the provider did not say, and for machine callers.",
    ),
    groupsLeftOut: Type.Boolean({
      description:
        "The provider left the user's groups out of the ID token (Microsoft Entra ID's groups overage) and they were not listed: no group rule matches.",
    }),
  },
  { additionalProperties: false },
);

export type UserinfoDocument = Static<typeof UserinfoDocument>;
