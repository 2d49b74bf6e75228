import { isDeepStrictEqual } from 'node:util';
import Type, { type Static } from 'typebox';
import { cidrProblem } from '../../lib/net/cidr.ts';
import { LOG_PROFILES } from '../api/access-application.ts';
import { StringEnum } from '../api/schema-helpers.ts';
import { listItemErrors, schemaErrors } from '../api/validate.ts';
import { ConfigError, type FieldError } from '../errors.ts';
import { ApplicationKeysSchema, RenderedAuthSchema } from './auth-config.ts';
import { policyErrors, RenderedPolicySchema } from './rendered-policy.ts';

/** Format version of SidecarConfig; bumped on any incompatible change of the contract. */
export const SIDECAR_CONFIG_FORMAT = 1;

const Ms = (description: string) => Type.Integer({ minimum: 0, maximum: 86_400_000, description });

/** Most revocations one config carries; a sidecar refuses a config (or revocations message) with more. */
export const MAX_REVOCATIONS = 10_000;

/** One AccessRevocation, as a sidecar enforces it. */
export const RevocationSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, description: 'The AccessRevocation.' }),
    user: Type.Union([Type.String({ minLength: 1, maxLength: 320 }), Type.Null()], {
      description: 'Email, lower-cased; null when the revocation names a subject or a session.',
    }),
    subject: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()], {
      description: 'Subject (OIDC sub); null when the revocation names an email or a session.',
    }),
    provider: Type.Union([Type.String({ minLength: 1, maxLength: 63 }), Type.Null()], {
      description: 'With subject or providerSession: the identity provider it belongs to; null for any.',
    }),
    session: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'One Gatehouse session id (a sign-out).' }),
    ),
    providerSession: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          "The identity provider's session id (a back-channel or front-channel logout), with provider.",
      }),
    ),
    before: Type.Integer({
      minimum: 0,
      description: 'Sessions signed in at or before this time (epoch seconds) end.',
    }),
    reason: Type.Union([Type.String({ maxLength: 512 }), Type.Null()], { description: 'Why, for the log.' }),
  },
  { additionalProperties: false, description: 'Sessions to refuse.' },
);

export type Revocation = Static<typeof RevocationSchema>;

/**
 * The contract between the operator (or the file source) and the sidecar: everything one sidecar
 * needs to serve one application, already resolved. The sidecar owns this format.
 */
export const SidecarConfigSchema = Type.Object(
  {
    format: Type.Literal(SIDECAR_CONFIG_FORMAT, { description: 'Format version.' }),
    generation: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Hash of the rendered content.' }),
    application: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, description: 'AccessApplication name.' }),
        namespace: Type.String({
          maxLength: 63,
          description: 'AccessApplication namespace ("" in file mode).',
        }),
      },
      { additionalProperties: false, description: 'Which application this is.' },
    ),
    hosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, description: 'Host pattern.' }), {
      minItems: 1,
      description: 'Host names served.',
    }),
    upstream: Type.Object(
      {
        origin: Type.String({ pattern: '^https?://[^/?#]+$', description: 'Upstream origin.' }),
        connectTimeoutMs: Ms('Connect timeout.'),
        responseHeadersTimeoutMs: Ms('Response headers timeout.'),
        idleTimeoutMs: Ms('Idle time allowed between response body chunks (0 = none).'),
        maxConnections: Type.Integer({ minimum: 1, maximum: 4096, description: 'Connection pool size.' }),
        maxResponseHeaderBytes: Type.Optional(
          Type.Integer({
            minimum: 1024,
            maximum: 1_048_576,
            description:
              'Largest upstream response head read; absent: 16384. Rendered only when set, so sidecars of earlier versions still take configs that do not use it.',
          }),
        ),
        caseInsensitivePaths: Type.Optional(
          Type.Literal(true, {
            description:
              'Paths selectors compare ASCII letters without regard to case; absent: as sent. Rendered only when set, so sidecars of earlier versions still take configs that do not use it.',
          }),
        ),
        tls: Type.Optional(
          Type.Object(
            {
              ca: Type.Union([Type.String({ maxLength: 262_144 }), Type.Null()], {
                description: 'PEM certificates trusted instead of the public CAs; null: the public CAs.',
              }),
              serverName: Type.String({
                minLength: 1,
                maxLength: 253,
                description: 'The name the certificate must carry (and SNI).',
              }),
              clientCertificate: Type.Optional(
                Type.Object(
                  {
                    certificates: Type.String({
                      minLength: 1,
                      maxLength: 262_144,
                      description: 'PEM: the client certificate, then its chain.',
                    }),
                    key: Type.String({
                      minLength: 1,
                      maxLength: 65_536,
                      description: 'PEM (PKCS #8): the private key of the first certificate.',
                    }),
                  },
                  {
                    additionalProperties: false,
                    description:
                      'Presented to an upstream that asks for a client certificate; rendered only when set, so sidecars of earlier versions still take configs without it.',
                  },
                ),
              ),
            },
            {
              additionalProperties: false,
              description:
                'How an https upstream is checked; rendered only for https, so sidecars of earlier versions still take configs of http upstreams.',
            },
          ),
        ),
      },
      { additionalProperties: false, description: 'Upstream settings.' },
    ),
    trustedProxies: Type.Array(Type.String({ description: 'CIDR.' }), {
      description: 'Trusted proxy ranges.',
    }),
    proxyProtocol: Type.Optional(
      Type.Object(
        {
          from: Type.Array(Type.String({ description: 'CIDR.' }), {
            minItems: 1,
            description: 'Peers whose connections begin with a PROXY protocol header.',
          }),
          optional: Type.Optional(
            Type.Literal(true, {
              description: 'A connection from them without a header is served as theirs.',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'PROXY protocol; rendered only when set, so sidecars of earlier versions still take configs without it.',
        },
      ),
    ),
    requestId: Type.Object(
      {
        header: Type.String({
          pattern: "^[!#$%&'*+.^_`|~0-9a-z-]+$",
          description: 'Lower-case header name.',
        }),
        trustIncoming: Type.Boolean({ description: 'Keep ids from trusted proxies.' }),
      },
      { additionalProperties: false, description: 'Request id settings.' },
    ),
    policies: Type.Array(RenderedPolicySchema, {
      maxItems: 1000,
      description: 'The application policies, in order of precedence.',
    }),
    auth: RenderedAuthSchema,
    keys: Type.Union([ApplicationKeysSchema, Type.Null()], {
      description:
        'Secret keys (cookie encryption, JWT signing); null when the application authenticates nobody.',
    }),
    logging: Type.Object(
      {
        profile: StringEnum(LOG_PROFILES, { description: 'Field profile.' }),
        requestHeaders: Type.Array(Type.String({ description: 'Lower-case header name.' }), {
          description: 'Headers copied into the line.',
        }),
        redactQueryParameters: Type.Array(Type.String({ description: 'Lower-case parameter name.' }), {
          description: 'Query parameters redacted in logged URIs (complete list).',
        }),
      },
      { additionalProperties: false, description: 'Log settings.' },
    ),
    revocations: Type.Array(RevocationSchema, {
      maxItems: MAX_REVOCATIONS,
      description:
        'Ended sessions: a session of `user` (or `subject`) signed in at or before `before` is refused.',
    }),
  },
  { additionalProperties: false, description: 'Rendered configuration of one sidecar.' },
);

export type SidecarConfig = Readonly<Static<typeof SidecarConfigSchema>>;

/** Headers that carry credentials: never logged, whatever the configuration says. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'cf-access-client-secret',
  'cf-access-token',
  'cf-authorization',
  'x-auth-request-access-token',
  'x-forwarded-access-token',
  'x-api-key',
]);

/** Checks facts a JSON schema cannot express (CIDRs, secret headers); shared by render and parse. */
export function semanticErrors(
  config: Omit<SidecarConfig, 'generation'>,
  at: (field: string) => string,
): FieldError[] {
  const errors = listItemErrors(config.trustedProxies, at('spec.trustedProxies'), cidrProblem);
  if (config.proxyProtocol)
    errors.push(...listItemErrors(config.proxyProtocol.from, at('spec.proxyProtocol.from'), cidrProblem));
  config.logging.requestHeaders.forEach((name, i) => {
    if (SECRET_HEADERS.has(name)) {
      errors.push({
        path: at(`spec.logging.requestHeaders[${i}]`),
        message: `${name} carries credentials and is never logged`,
      });
    }
  });
  return errors;
}

/** Freezes an object graph so a config in use can never change under a request. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Validates a SidecarConfig received at the boundary (e.g. from the operator) into a frozen object.
 * With the config in force (`current`), what it already holds is not checked or copied again:
 * policies equal to its own (the result carries them, so the sidecar keeps their compiled form too,
 * compileRuntimeState), and each revocation equal to one of its own (the result carries that
 * object). Every AccessRevocation reaches the sidecar as the whole list of the application's
 * revocations: with 8,000 in force (sign-outs each add one), checking and copying all of them took
 * about 23 of the 66 ms a sign-out cost each sidecar of the application (bench/session-end-churn.ts).
 */
export function parseSidecarConfig(value: unknown, current?: SidecarConfig): SidecarConfig {
  const policies = (value as { policies?: unknown } | null)?.policies;
  // Policies equal to those in force were checked when they came: the rest is checked alone.
  const samePolicies = current !== undefined && isDeepStrictEqual(policies, current.policies);
  const received = (value as { revocations?: unknown } | null)?.revocations;
  const revocations = current && Array.isArray(received) ? keptRevocations(received, current) : undefined;
  const checked =
    samePolicies || revocations
      ? {
          ...(value as object),
          ...(samePolicies ? { policies: [] } : {}),
          ...(revocations ? { revocations: revocations.fresh } : {}),
        }
      : value;
  const checkErrors = schemaErrors(
    SidecarConfigSchema,
    checked,
    '',
    1 + (!samePolicies && Array.isArray(policies) ? policies.length : 0),
  );
  // The fresh revocations were checked as a list of their own: their errors name their place in
  // the list received.
  const errors = revocations
    ? checkErrors.map((error) => ({
        ...error,
        path: error.path.replace(
          /^revocations\[(\d+)\]/,
          (_, at: string) => `revocations[${revocations.receivedIndex(Number(at))}]`,
        ),
      }))
    : checkErrors;
  if (revocations && revocations.all.length > MAX_REVOCATIONS)
    errors.push({ path: 'revocations', message: `must not have more than ${MAX_REVOCATIONS} items` });
  if (errors.length === 0) {
    const config = checked as SidecarConfig;
    errors.push(...semanticErrors(config, (f) => f.replace(/^spec\./, '')));
    config.policies.forEach((policy, i) => {
      errors.push(...policyErrors(policy, (f) => `policies[${i}].${f}`));
    });
  }
  if (errors.length > 0) throw new ConfigError('config_invalid', errors);
  const copy = structuredClone(checked) as SidecarConfig;
  return deepFreeze({
    ...copy,
    ...(samePolicies && current ? { policies: current.policies } : {}),
    ...(revocations ? { revocations: revocations.merge(copy.revocations) } : {}),
  });
}

/**
 * The received revocations split into those equal to one in force (kept: that object is reused)
 * and the rest (fresh: to be checked and copied), and how to put them back in the received order.
 */
function keptRevocations(received: readonly unknown[], current: SidecarConfig) {
  const inForce = new Map(current.revocations.map((r) => [r.name, r]));
  const kept: (Revocation | undefined)[] = [];
  const fresh: unknown[] = [];
  /** Where each fresh one is in the received list. */
  const freshAt: number[] = [];
  received.forEach((item, at) => {
    const name = (item as { name?: unknown } | null)?.name;
    const known = typeof name === 'string' ? inForce.get(name) : undefined;
    if (known && sameFlatRecord(item, known)) kept.push(known);
    else {
      kept.push(undefined);
      fresh.push(item);
      freshAt.push(at);
    }
  });
  return {
    all: received,
    fresh,
    receivedIndex: (freshIndex: number): number => freshAt[freshIndex] ?? freshIndex,
    /** The received list again, with the checked copies of the fresh ones in their places. */
    merge(copies: readonly Revocation[]): Revocation[] {
      let next = 0;
      return kept.map((known) => known ?? (copies[next++] as Revocation));
    },
  };
}

/** True when `value` is an object with exactly the fields of `record`, each the same primitive. */
export function sameFlatRecord(value: unknown, record: object): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const fields = Object.keys(value);
  if (fields.length !== Object.keys(record).length) return false;
  for (const field of fields)
    if (
      !Object.hasOwn(record, field) ||
      (value as Record<string, unknown>)[field] !== (record as Record<string, unknown>)[field]
    )
      return false;
  return true;
}

const REDACTED = '[REDACTED]';

/** The private members of a JSON Web Key (RFC 7518 §6.2.2, §6.3.2, §6.4.1): what signs. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/**
 * Every secret value of a config (client secrets, cookie keys, the private members of signing
 * keys): what the log must never carry, looked for by value where an error might quote one.
 */
export function configSecrets(config: SidecarConfig): string[] {
  const secrets: string[] = [];
  for (const p of config.auth.providers) if (p.clientSecret) secrets.push(p.clientSecret);
  for (const key of config.keys?.cookie ?? []) secrets.push(key.secret);
  const clientKey = config.upstream.tls?.clientCertificate?.key;
  if (clientKey !== undefined) secrets.push(clientKey);
  for (const jwk of config.keys?.signing ?? [])
    for (const member of PRIVATE_JWK_MEMBERS) {
      const value = (jwk as Record<string, unknown>)[member];
      if (typeof value === 'string') secrets.push(value);
    }
  return secrets;
}

/** The config with client secrets and keys replaced, for printing: secrets never leave the process. */
export function redactedConfig(config: SidecarConfig): object {
  const tls = config.upstream.tls;
  return {
    ...config,
    ...(tls?.clientCertificate && {
      upstream: {
        ...config.upstream,
        tls: { ...tls, clientCertificate: { ...tls.clientCertificate, key: REDACTED } },
      },
    }),
    auth: {
      ...config.auth,
      providers: config.auth.providers.map((p) => ({
        ...p,
        clientSecret: p.clientSecret === null ? null : REDACTED,
      })),
    },
    keys: config.keys === null ? null : REDACTED,
  };
}
