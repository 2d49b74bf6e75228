import Type, { type Static } from 'typebox';
import { ASSERTION_ALGORITHMS, GRAPH_GROUP_FIELDS } from '../api/authentication.ts';
import { StringEnum } from '../api/schema-helpers.ts';

const Ms = (description: string) => Type.Integer({ minimum: 1, maximum: 30 * 86_400_000, description });
const LowerHeader = (description: string) =>
  Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9a-z-]+$", description });

export const RenderedProviderSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, description: 'Login method name.' }),
    displayName: Type.String({ minLength: 1, maxLength: 100, description: 'Chooser label.' }),
    issuer: Type.String({ pattern: '^https?://', description: 'Issuer URL.' }),
    clientId: Type.String({ minLength: 1, description: 'Client id.' }),
    clientSecret: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      description: 'Client secret (resolved from its Secret); null for a public client.',
    }),
    scopes: Type.Array(Type.String(), { minItems: 1, description: 'Scopes, openid first.' }),
    groupsClaim: Type.String({ minLength: 1, description: 'Claim holding groups.' }),
    allowUnverifiedEmail: Type.Boolean({ description: 'Accept email_verified: false.' }),
    groupsOverage: Type.Optional(
      Type.Object(
        {
          graphUrl: Type.String({ pattern: '^https?://[^/?#]+$', description: 'Origin of Microsoft Graph.' }),
          groupField: StringEnum(GRAPH_GROUP_FIELDS, { description: 'The property that names a group.' }),
        },
        {
          additionalProperties: false,
          description:
            'Groups left out of the ID token are listed from Microsoft Graph. Rendered only when set, so sidecars of earlier versions still take configs without it.',
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'One OpenID Provider.' },
);

export const RenderedAuthSchema = Type.Object(
  {
    externalOrigin: Type.Union([Type.String({ pattern: '^https?://[^/?#]+$' }), Type.Null()], {
      description: 'Origin sign-in runs on; null without identity providers.',
    }),
    basePath: Type.Optional(
      Type.String({
        pattern: "^(/[A-Za-z0-9._~!$&'()*+,=:@-]+)+$",
        maxLength: 1024,
        description:
          'The path of externalUrl (`/grafana`): the gateway\u2019s routes and cookies are under it. Rendered only when there is one, so sidecars of earlier versions still take configs without it.',
      }),
    ),
    providers: Type.Array(RenderedProviderSchema, { maxItems: 16, description: 'Identity providers.' }),
    session: Type.Object(
      {
        cookieName: Type.String({ pattern: '^[A-Za-z0-9_]+$', description: 'Session cookie name.' }),
        absoluteMs: Ms('Absolute session lifetime.'),
        idleMs: Ms('Idle timeout.'),
        secure: Type.Boolean({ description: 'Cookies carry the Secure attribute.' }),
      },
      { additionalProperties: false, description: 'Session settings.' },
    ),
    serviceTokens: Type.Object(
      {
        clientIdHeader: LowerHeader('Client id header.'),
        clientSecretHeader: LowerHeader('Client secret header.'),
        tokens: Type.Array(
          Type.Object(
            {
              id: Type.String({ minLength: 1, maxLength: 128, description: 'Token id.' }),
              sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Hex SHA-256 of the secret.' }),
              expiresAt: Type.Union([Type.Integer(), Type.Null()], { description: 'Expiry, epoch ms.' }),
            },
            { additionalProperties: false, description: 'A service token.' },
          ),
          { maxItems: 1000, description: 'Accepted tokens.' },
        ),
      },
      { additionalProperties: false, description: 'Service tokens.' },
    ),
    serviceAccounts: Type.Union(
      [
        Type.Object(
          {
            issuer: Type.String({ minLength: 1 }),
            jwksUrl: Type.String({ pattern: '^https?://' }),
            audiences: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
            caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
            bearerTokenFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'ServiceAccount token verification; null when not accepted.' },
    ),
    identityHeaders: Type.Object(
      {
        email: Type.Array(LowerHeader('Email header.'), { maxItems: 4 }),
        user: Type.Array(LowerHeader('User header.'), { maxItems: 4 }),
        groups: Type.Array(LowerHeader('Groups header.'), { maxItems: 4 }),
        preferredUsername: Type.Array(LowerHeader('Preferred username header.'), { maxItems: 4 }),
        assertion: LowerHeader('Identity JWT header.'),
        groupsFilter: Type.Optional(
          Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
            minItems: 1,
            maxItems: 64,
            description: 'Names or * patterns of the groups sent to the application; absent: every group.',
          }),
        ),
      },
      {
        additionalProperties: false,
        description: 'Identity header names: each value goes in every header listed.',
      },
    ),
    assertion: Type.Object(
      {
        issuer: Type.String({ minLength: 1, description: 'iss claim.' }),
        audience: Type.String({ minLength: 1, description: 'aud claim.' }),
        algorithm: StringEnum(ASSERTION_ALGORITHMS, { description: 'Signature algorithm.' }),
        claims: StringEnum(['gatehouse', 'cloudflare'] as const, {
          description: "The claim set: Gatehouse's, or also those of a Cloudflare Access application token.",
        }),
        lifetimeMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, description: 'JWT lifetime.' }),
      },
      { additionalProperties: false, description: 'Identity JWT settings.' },
    ),
  },
  { additionalProperties: false, description: 'Authentication settings of the application.' },
);

/** A private JWK as stored in config; checked further when imported. */
const PrivateJwk = Type.Object(
  {
    kty: Type.Union([Type.Literal('EC'), Type.Literal('RSA')]),
    kid: Type.String({ minLength: 1, maxLength: 128 }),
    alg: StringEnum(ASSERTION_ALGORITHMS, { description: 'Algorithm of the key.' }),
    d: Type.String({ minLength: 1 }),
  },
  { additionalProperties: Type.String(), description: 'A private signing key (JWK).' },
);

export const ApplicationKeysSchema = Type.Object(
  {
    cookie: Type.Array(
      Type.Object(
        {
          kid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
          secret: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: '32 bytes, base64url.' }),
        },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: 4,
        description: 'Cookie encryption keys: the first encrypts, all decrypt (rotation overlap).',
      },
    ),
    signing: Type.Array(PrivateJwk, {
      minItems: 1,
      maxItems: 4,
      description: 'Identity JWT signing keys: the first signs, all are published in the JWKS.',
    }),
  },
  { additionalProperties: false, description: 'Per-application secret keys.' },
);

export type RenderedAuth = Static<typeof RenderedAuthSchema>;
export type RenderedProvider = Static<typeof RenderedProviderSchema>;
export type ApplicationKeys = Static<typeof ApplicationKeysSchema>;
