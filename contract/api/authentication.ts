import Type, { type Static } from 'typebox';
import { cel, Duration, HeaderName, Opt, StringEnum } from './schema-helpers.ts';

export const ASSERTION_ALGORITHMS = ['ES256', 'RS256'] as const;
export const IDENTITY_HEADER_PROFILES = ['gatehouse', 'oauth2-proxy', 'cloudflare'] as const;

const Slug = (description: string) =>
  Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description });

export const SecretKeyReference = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      description: 'Name of a Secret in the namespace of the application.',
    }),
    key: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[-._a-zA-Z0-9]+$',
      description: 'Key within the Secret.',
    }),
  },
  { additionalProperties: false, description: 'A key of a Kubernetes Secret.' },
);

/** The Microsoft Graph property a group is named by, as the groups claim names it. */
export const GRAPH_GROUP_FIELDS = ['id', 'displayName', 'onPremisesSamAccountName'] as const;

export const GroupsOverage = Type.Object(
  {
    graphUrl: Opt(
      Type.String({
        minLength: 8,
        maxLength: 2048,
        pattern: '^https?://[^/?#]+$',
        description:
          'Origin of Microsoft Graph. Default https://graph.microsoft.com; national clouds: https://graph.microsoft.us, https://dod-graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn. Must be https, except on loopback addresses.',
      }),
    ),
    groupField: Opt(
      StringEnum(GRAPH_GROUP_FIELDS, {
        description:
          'What names a group, as the groups claim of the application registration does: id (the object id, the default; needs the delegated permission User.Read), displayName or onPremisesSamAccountName (these need GroupMember.Read.All: with User.Read alone Graph gives ids only).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "When an ID token leaves the user's groups out (Microsoft Entra ID's groups overage: an account in more than 200 groups), the sidecar lists them from Microsoft Graph (/v1.0/me/transitiveMemberOf) with the sign-in's access token, at sign-in and at each refresh, and keeps those the application's policies name or identityHeaders.groupsFilter passes. The scopes must give an access token for Graph (add User.Read).",
  },
);

export const IdentityProvider = Type.Object(
  {
    name: Slug(
      'Short name of the provider: the login method in logs, in the identityProviders selector and in the identity JWT (idp).',
    ),
    displayName: Opt(
      Type.String({ minLength: 1, maxLength: 100, description: 'Label on the sign-in chooser page.' }),
    ),
    issuer: Type.String({
      minLength: 8,
      maxLength: 2048,
      pattern: '^https?://',
      description:
        'Issuer URL of the OpenID Provider; its /.well-known/openid-configuration is read. Must be https, except on loopback addresses.',
    }),
    clientId: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'OAuth client id registered at the provider.',
    }),
    clientSecretRef: Opt(SecretKeyReference),
    scopes: Opt(
      Type.Array(
        Type.String({ minLength: 1, maxLength: 128, pattern: '^[!#-\\[\\]-~]+$', description: 'A scope.' }),
        {
          maxItems: 32,
          description: 'Scopes requested. Default: openid, email, profile. openid is always requested.',
        },
      ),
    ),
    groupsClaim: Opt(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'ID token claim holding the user groups (a list of strings). Default groups.',
      }),
    ),
    groupsOverage: Opt(GroupsOverage),
    allowUnverifiedEmail: Opt(
      Type.Boolean({
        description:
          'Accept an email the provider does not mark verified. Default false: only an ID token whose email_verified is the JSON boolean true gives the session its email; otherwise the email is ignored and email selectors do not match. Set true for providers that never send email_verified (Microsoft Entra ID).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'An OpenID Provider users sign in with (authorization code flow with PKCE S256, state and nonce).',
  },
);

export const SessionSettings = Type.Object(
  {
    cookieName: Opt(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_]+$',
        description: 'Name of the session cookie (and the prefix of Gatehouse cookies). Default _gatehouse.',
      }),
    ),
    absoluteLifetime: Opt(
      Duration('Longest a session lives, whatever the activity; then the user signs in again. Default 12h.'),
    ),
    idleTimeout: Opt(Duration('A session unused for this long ends. Default 1h.')),
  },
  { additionalProperties: false, description: 'Browser sessions after sign-in.' },
);

export const ServiceToken = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9][-._A-Za-z0-9]*$',
      description: 'Client id of the token; sent in the client id header and logged (the secret never is).',
    }),
    secretHash: Type.String({
      pattern: '^sha256:[0-9a-f]{64}$',
      description:
        'sha256: followed by the hex SHA-256 of the client secret (`gatehouse service-token create` prints both).',
    }),
    expiresAt: Opt(
      Type.String({
        format: 'date-time',
        maxLength: 64,
        description: 'When the token stops being accepted (RFC 3339). Default: never.',
      }),
    ),
  },
  { additionalProperties: false, description: 'A client id and secret pair for a machine caller.' },
);

export const ServiceTokenSettings = Type.Object(
  {
    clientIdHeader: Opt(HeaderName('Request header carrying the client id. Default Cf-Access-Client-Id.')),
    clientSecretHeader: Opt(
      HeaderName('Request header carrying the client secret. Default Cf-Access-Client-Secret.'),
    ),
    tokens: Type.Array(ServiceToken, {
      maxItems: 1000,
      description: 'The accepted tokens; ids are unique.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['id'],
    }),
  },
  {
    additionalProperties: false,
    description:
      'Service tokens: machines send a client id and secret in two headers (Cloudflare Access names by default).',
  },
);

export const ServiceAccountSettings = Type.Object(
  {
    issuer: Type.String({
      minLength: 1,
      maxLength: 2048,
      description:
        'Issuer of the cluster ServiceAccount tokens (the API server --service-account-issuer), e.g. https://kubernetes.default.svc.cluster.local.',
    }),
    jwksUrl: Type.String({
      minLength: 8,
      maxLength: 2048,
      pattern: '^https?://',
      description: 'Where the issuer publishes its keys, e.g. https://kubernetes.default.svc/openid/v1/jwks.',
    }),
    audiences: Type.Array(Type.String({ minLength: 1, maxLength: 256, description: 'An audience.' }), {
      minItems: 1,
      maxItems: 8,
      description: 'Audiences a token must carry one of: the audience callers request for this application.',
    }),
    caFile: Opt(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          'PEM file of CAs trusted for jwksUrl. In a pod: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt.',
      }),
    ),
    bearerTokenFile: Opt(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'Token file sent when fetching jwksUrl (the API server requires one by default).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Kubernetes ServiceAccount callers: a projected token in Authorization: Bearer, verified against the issuer keys.',
  },
);

export const IdentityHeaderSettings = Type.Object(
  {
    profile: Opt(
      StringEnum(IDENTITY_HEADER_PROFILES, {
        description:
          'Default header names, as the application already reads them: gatehouse (X-Gatehouse-Email, -User, -Groups, -Jwt-Assertion); oauth2-proxy (X-Forwarded-Email, -User, -Groups, -Preferred-Username and the same as X-Auth-Request-*); cloudflare (Cf-Access-Authenticated-User-Email and Cf-Access-Jwt-Assertion, an RS256 JWT with the claims of a Cloudflare Access application token; X-Gatehouse-User and -Groups).',
      }),
    ),
    email: Opt(HeaderName("Header carrying the email address (instead of the profile's).")),
    user: Opt(HeaderName("Header carrying the subject (instead of the profile's).")),
    groups: Opt(HeaderName("Header carrying the groups, comma-separated (instead of the profile's).")),
    assertion: Opt(HeaderName("Header carrying the signed identity JWT (instead of the profile's).")),
    groupsFilter: Opt(
      Type.Array(
        Type.String({
          minLength: 1,
          maxLength: 256,
          description: 'A group name, or a pattern where * stands for any run of characters (team-*).',
        }),
        {
          minItems: 1,
          maxItems: 64,
          description:
            "Only the groups that match one of these reach the application, in the groups header and the identity JWT; policies still see every group. Default: every group. For users in hundreds of groups, whose headers would pass the application's limit on a request head (Node.js 16 KiB, Tomcat 8 KiB).",
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'Headers that carry the verified identity to the application.',
  },
);

export const AssertionSettings = Type.Object(
  {
    algorithm: Opt(
      StringEnum(ASSERTION_ALGORITHMS, {
        description: 'Signature algorithm. Default ES256; RS256 with the cloudflare header profile.',
      }),
    ),
    lifetime: Opt(Duration('Validity of one identity JWT (exp - iat). Default 2m; at most 1h.')),
    audience: Opt(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'aud claim. Default: gatehouse:<namespace>/<name> of the application.',
      }),
    ),
  },
  { additionalProperties: false, description: 'The signed identity JWT sent to the application.' },
);

export const Authentication = Type.Object(
  {
    externalUrl: Opt(
      Type.String({
        minLength: 8,
        maxLength: 2048,
        pattern: '^https?://[^/?#]+(/[^?#]*)?$',
        description:
          'Where users reach the application: its origin, e.g. https://grafana.example.com, or a path of a shared host, e.g. https://tools.example.com/grafana. Required with identityProviders: sign-in runs on this origin, the redirect URI is <externalUrl>/.gatehouse/callback, the session cookie is sent with the path\u2019s requests only, and cookies are Secure when it is https.',
      }),
    ),
    identityProviders: Opt(
      Type.Array(IdentityProvider, {
        maxItems: 16,
        description: 'OpenID Providers users sign in with; names are unique.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    ),
    session: Opt(SessionSettings),
    serviceTokens: Opt(ServiceTokenSettings),
    serviceAccounts: Opt(ServiceAccountSettings),
    identityHeaders: Opt(IdentityHeaderSettings),
    assertion: Opt(AssertionSettings),
  },
  {
    additionalProperties: false,
    description: 'How callers prove who they are, and how the application learns it.',
    'x-kubernetes-validations': [
      cel(
        '!has(self.identityProviders) || size(self.identityProviders) == 0 || has(self.externalUrl)',
        'externalUrl is required when identityProviders are set',
        '.externalUrl',
      ),
    ],
  },
);

export type Authentication = Static<typeof Authentication>;
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];
export type IdentityHeaderProfile = (typeof IDENTITY_HEADER_PROFILES)[number];
