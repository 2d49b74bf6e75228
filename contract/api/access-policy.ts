import Type, { type Static } from 'typebox';
import { PRIVATE_ENDPOINT_PATTERN } from '../../lib/net/proxy-protocol-endpoint.ts';
import { GatehouseObject } from './gatehouse-object.ts';
import { cel, Duration, exactlyOneOf, IpOrCidr, Opt, StringEnum } from './schema-helpers.ts';

export const POLICY_DECISIONS = ['allow', 'deny', 'bypass', 'service-auth'] as const;
export const POLICY_MODES = ['enforce', 'audit'] as const;

/**
 * An `acr` value: printable ASCII without a space (`acr_values` is a space-separated list), a
 * double quote or a backslash (the 401 challenge carries the values in a quoted string).
 */
export const ACR_VALUE_PATTERN = '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$';

const list = <T extends Parameters<typeof Type.Array>[0]>(item: T, maxItems: number, description: string) =>
  Type.Array(item, { minItems: 1, maxItems, description });

const ClaimSelector = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        'Name of a top-level claim of the ID token or userinfo (taken literally; dots are not paths). `amr` and `acr` (how the user authenticated) may be named; claims that describe the token itself (`iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `nonce`, `auth_time`, `azp`, `sid`, the hashes) are refused: no session keeps them.',
    }),
    equals: Opt(
      Type.String({
        maxLength: 1024,
        description: 'Matches when the claim is a string, number or boolean whose text equals this value.',
      }),
    ),
    contains: Opt(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          'Matches when the claim is an array holding this string, or a space-separated string (like scope) holding it as one word.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'An OIDC claim test: name plus exactly one of equals or contains.',
    'x-kubernetes-validations': [
      cel(exactlyOneOf(['equals', 'contains']), 'claim sets exactly one of equals or contains'),
    ],
  },
);

const ServiceAccountSelector = Type.Object(
  {
    namespace: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description: 'Namespace of the ServiceAccount.',
    }),
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^(\\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\\*)?|[a-z0-9]([-a-z0-9.]*[-a-z0-9.])?\\*)$',
      description: 'Name of the ServiceAccount; `*` for any, or a prefix ending in `*` such as `ci-*`.',
    }),
  },
  { additionalProperties: false, description: 'A Kubernetes ServiceAccount, by namespace and name.' },
);

const SELECTOR_FIELDS = {
  everyone: Opt(Type.Literal(true, { description: 'Matches every caller.' })),
  authenticated: Opt(
    Type.Literal(true, {
      description: 'Matches any authenticated caller: a signed-in user, a service token or a ServiceAccount.',
    }),
  ),
  emails: Opt(
    list(
      Type.String({ minLength: 3, maxLength: 320, description: 'An email address.' }),
      1000,
      "Matches a user whose email address is one of these (compared case-insensitively; the address must contain exactly one '@').",
    ),
  ),
  emailDomains: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$',
        description: 'A domain such as example.com.',
      }),
      256,
      'Matches a user whose email address is in one of these domains, exactly (sub.example.com is not example.com; compared case-insensitively).',
    ),
  ),
  groups: Opt(
    list(
      Type.String({ minLength: 1, maxLength: 256, description: 'A group name, as the provider sends it.' }),
      1000,
      'Matches a user in at least one of these groups (case-sensitive).',
    ),
  ),
  claim: Opt(ClaimSelector),
  signedInWithin: Opt(
    Duration(
      'Matches a user who authenticated at the identity provider within this long (the `auth_time` of the ID token), between 1m and 720h. A signed-in user whose authentication is older is sent to sign in again with `max_age` (a page) or answered 401 `insufficient_user_authentication` (any other request) when a fresh sign-in would let the request through: a fresh sign-in for sensitive paths.',
    ),
  ),
  acrValues: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 256,
        pattern: ACR_VALUE_PATTERN,
        description:
          'An authentication context class reference, as the provider names it (`phr`, `urn:okta:loa:2fa:any`, a Keycloak level such as `gold`): printable ASCII without spaces, quotes or backslashes.',
      }),
      16,
      'Matches a user whose sign-in the provider classed as one of these (the `acr` of the ID token). A signed-in user whose sign-in is classed otherwise is sent to sign in again asking the provider for these (`acr_values`, a page) or answered 401 `insufficient_user_authentication` with `acr_values` (any other request) when such a sign-in would let the request through: step-up authentication, for a second factor or a phishing-resistant one on sensitive paths.',
    ),
  ),
  identityProviders: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        description: 'Name of an identity provider of the application.',
      }),
      32,
      'Matches a user who signed in with one of these identity providers (the login method).',
    ),
  ),
  ipRanges: Opt(
    list(
      IpOrCidr(),
      1000,
      'Matches when the client IP is in one of these ranges. The client IP is the peer, or, behind trustedProxies, the first untrusted address of X-Forwarded-For read right to left.',
    ),
  ),
  privateEndpoints: Opt(
    list(
      Type.String({
        minLength: 5,
        maxLength: 70,
        pattern: PRIVATE_ENDPOINT_PATTERN,
        description:
          'A private endpoint: `aws:<VPC endpoint id>` (`aws:vpce-0123456789abcdef0`), `azure:<LinkID>` or `gcp:<Private Service Connect connection id>` (decimal).',
      }),
      1000,
      'Matches when the connection came through one of these private endpoints (AWS PrivateLink, Azure Private Link, GCP Private Service Connect), as the PROXY protocol header of a load balancer of `spec.proxyProtocol` names it; the request line shows it as `privateEndpoint`. Never matches a connection without one.',
    ),
  ),
  serviceTokens: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: '^[A-Za-z0-9][-A-Za-z0-9._]*$',
        description: 'A service token id.',
      }),
      256,
      'Matches a machine caller authenticated with one of these service tokens (by token id).',
    ),
  ),
  anyServiceToken: Opt(
    Type.Literal(true, {
      description: 'Matches a machine caller authenticated with any valid service token.',
    }),
  ),
  serviceAccounts: Opt(
    list(
      ServiceAccountSelector,
      256,
      'Matches an in-cluster caller presenting a token of one of these ServiceAccounts.',
    ),
  ),
  paths: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        pattern: '^/',
        description:
          'A path glob: `*` matches within one segment, a trailing `/**` matches the path and everything below.',
      }),
      256,
      'Matches when the canonical request path matches one of these globs (case-sensitive).',
    ),
  ),
  methods: Opt(
    list(
      Type.String({
        minLength: 1,
        maxLength: 32,
        pattern: '^[A-Z]+$',
        description: 'An HTTP method, upper-case.',
      }),
      16,
      'Matches when the request method is one of these.',
    ),
  ),
};

/** One selector: an object with exactly one of the fields below. */
export const Selector = Type.Object(SELECTOR_FIELDS, {
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  description: 'One condition: exactly one of the fields below.',
  'x-kubernetes-validations': [
    cel(
      exactlyOneOf(Object.keys(SELECTOR_FIELDS)),
      'a selector sets exactly one field, such as emails or ipRanges',
    ),
  ],
});

export const AccessPolicySpec = Type.Object(
  {
    decision: StringEnum(POLICY_DECISIONS, {
      description:
        'What a match means: allow (signed-in users), deny, bypass (no sign-in needed; still logged) or service-auth (machine callers only; never a login redirect).',
    }),
    mode: Opt(
      StringEnum(POLICY_MODES, {
        description:
          'enforce (default) or audit: an audit policy is evaluated and its would-be decision logged, never enforced.',
      }),
    ),
    include: Type.Array(Selector, {
      minItems: 1,
      maxItems: 64,
      description: 'The policy matches when at least one of these matches.',
    }),
    require: Opt(
      Type.Array(Selector, {
        maxItems: 64,
        description: 'All of these must also match.',
      }),
    ),
    exclude: Opt(
      Type.Array(Selector, {
        maxItems: 64,
        description: 'None of these may match; an exclude that matches always wins.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Who may reach an application, and how.' },
);

export const AccessPolicy = GatehouseObject(
  'AccessPolicy',
  AccessPolicySpec,
  'A reusable access rule. Applications list the policies that apply to them, in order of precedence.',
);

export type AccessPolicy = Static<typeof AccessPolicy>;
export type AccessPolicySpec = Static<typeof AccessPolicySpec>;
export type Selector = Static<typeof Selector>;
export type SelectorKind = keyof Selector;
export type PolicyDecision = (typeof POLICY_DECISIONS)[number];
export type PolicyMode = (typeof POLICY_MODES)[number];
