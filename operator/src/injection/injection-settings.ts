import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { parse } from 'yaml';
import { StringEnum } from '../../../contract/api/schema-helpers.ts';
import { schemaErrors } from '../../../contract/api/validate.ts';
import { ConfigError } from '../../../contract/errors.ts';
import { fileErrorText } from '../../../lib/file-error-text.ts';

/**
 * The sidecar flags a platform team may set on injected sidecars: its client limits, its shutdown
 * grace and delay, when a quiet sidecar gives memory back, and how often a long request is logged
 * while in progress; nothing else.
 */
export const SIDECAR_LIMIT_FLAGS: readonly string[] = [
  'max-header-size',
  'client-header-timeout',
  'client-idle-timeout',
  'keep-alive-timeout',
  'max-connections',
  'listen-backlog',
  'client-body-timeout',
  'client-body-min-rate',
  'client-request-timeout',
  'client-send-min-rate',
  'client-contended-rate',
  'upstream-queue-timeout',
  'upstream-queue-size',
  'anonymous-share',
  'client-share',
  'max-tunnels',
  'max-client-tunnels',
  'shutdown-grace',
  'shutdown-delay',
  'idle-collection-after',
  'in-progress-interval',
];

const ProxyUrl = (description: string) =>
  Type.String({ pattern: '^https?://[^\\s/?#]+/?$', maxLength: 512, description });
const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });
const Quantity = (description: string) =>
  Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$', maxLength: 32, description });
const ResourceList = (description: string) =>
  Type.Object(
    { cpu: Type.Optional(Quantity('CPU.')), memory: Type.Optional(Quantity('Memory.')) },
    { additionalProperties: false, description },
  );

/** How the webhook builds the sidecar it adds to a pod; the Helm chart renders it from its values. */
export const InjectionSettingsSchema = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: 512, description: 'Image of the sidecar container.' }),
    imagePullPolicy: Type.Optional(
      StringEnum(['Always', 'IfNotPresent', 'Never'] as const, { description: 'Default IfNotPresent.' }),
    ),
    operatorUrl: Type.String({
      pattern: '^https://[^/]+$',
      maxLength: 512,
      description:
        'Where sidecars stream their config from, e.g. https://gatehouse-operator.gatehouse-system.svc.',
    }),
    listenPort: Type.Optional(Port('Port the sidecar serves traffic on. Default 4180.')),
    adminPort: Type.Optional(Port('Port of the sidecar’s /metrics, /healthz and /readyz. Default 9180.')),
    nativeSidecar: Type.Optional(
      StringEnum(['auto', 'always', 'never'] as const, {
        description:
          'auto: an init container with restartPolicy Always on Kubernetes 1.29 and later, else a regular container.',
      }),
    ),
    tokenExpirationSeconds: Type.Optional(
      Type.Integer({
        minimum: 600,
        maximum: 86400,
        description: 'Lifetime of the projected token (the kubelet renews it). Default 3600.',
      }),
    ),
    runAsUser: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
        description:
          'UID and GID of the sidecar. Default 65532; null: none is named, the platform chooses (OpenShift assigns one from the namespace\u2019s range and refuses any other).',
      }),
    ),
    imagePullSecrets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({
              pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
              maxLength: 253,
              description: 'A Secret of type kubernetes.io/dockerconfigjson in the pod\u2019s namespace.',
            }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 8,
          description:
            'Pull secrets added to every injected pod, for a sidecar image in a registry that needs them (a pod that already names one keeps it once).',
        },
      ),
    ),
    args: Type.Optional(
      Type.Array(
        Type.String({
          pattern: `^--(${SIDECAR_LIMIT_FLAGS.join('|')})=[0-9a-z.]{1,16}$`,
          description: 'One client-limit flag of the sidecar as --flag=value.',
        }),
        {
          maxItems: SIDECAR_LIMIT_FLAGS.length,
          description:
            'Client limits given to every injected sidecar (docs/sidecar.md, "Timeouts and limits"). Only these flags are accepted: the rest of the command line is the webhook’s.',
        },
      ),
    ),
    egressProxy: Type.Optional(
      Type.Object(
        {
          httpsProxy: Type.Optional(
            ProxyUrl('The proxy for https URLs (HTTPS_PROXY of the sidecar), e.g. http://proxy.corp:3128.'),
          ),
          httpProxy: Type.Optional(ProxyUrl('The proxy for http URLs (HTTP_PROXY of the sidecar).')),
          noProxy: Type.Optional(
            Type.String({
              pattern: '^[^\\s]*$',
              maxLength: 4096,
              description:
                'Hosts reached directly (NO_PROXY of the sidecar), comma-separated: names (a leading dot for a domain), addresses, CIDR ranges, host:port.',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "The corporate egress proxy the injected sidecars' calls to identity providers and Microsoft Graph go through (their application and the operator are reached directly).",
        },
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          requests: Type.Optional(ResourceList('Requests of the sidecar container.')),
          limits: Type.Optional(ResourceList('Limits of the sidecar container.')),
        },
        { additionalProperties: false, description: 'Resources of the sidecar container.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'How the webhook builds the sidecar container.' },
);

export type InjectionSettingsInput = Static<typeof InjectionSettingsSchema>;

/** Injection settings with every default filled in. */
export interface InjectionSettings {
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  readonly operatorUrl: string;
  readonly listenPort: number;
  readonly adminPort: number;
  readonly nativeSidecar: 'auto' | 'always' | 'never';
  readonly tokenExpirationSeconds: number;
  /** Null: the pod names none, and the platform chooses. */
  readonly runAsUser: number | null;
  /** Names of the pull secrets added to every injected pod. */
  readonly imagePullSecrets: readonly string[];
  /** Client-limit flags appended to every injected sidecar's command line. */
  readonly args: readonly string[];
  /** The egress proxy given to every injected sidecar as HTTPS_PROXY, HTTP_PROXY and NO_PROXY. */
  readonly egressProxy: {
    readonly httpsProxy?: string;
    readonly httpProxy?: string;
    readonly noProxy?: string;
  };
  readonly resources: {
    readonly requests: Readonly<Record<string, string>>;
    readonly limits: Readonly<Record<string, string>>;
  };
}

export const DEFAULT_INJECTION = {
  listenPort: 4180,
  adminPort: 9180,
  tokenExpirationSeconds: 3600,
  runAsUser: 65532,
  resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '512Mi' } },
} as const;

/** Validates injection settings (every error with its path) and fills the defaults. */
export function parseInjectionSettings(value: unknown, source: string): InjectionSettings {
  const errors = schemaErrors(InjectionSettingsSchema, value, source);
  const input = value as InjectionSettingsInput;
  if (
    errors.length === 0 &&
    (input.listenPort ?? DEFAULT_INJECTION.listenPort) === (input.adminPort ?? DEFAULT_INJECTION.adminPort)
  )
    errors.push({ path: `${source} adminPort`, message: 'must differ from listenPort' });
  if (errors.length > 0) throw new ConfigError('config_invalid', errors);
  return Object.freeze({
    image: input.image,
    imagePullPolicy: input.imagePullPolicy ?? 'IfNotPresent',
    operatorUrl: input.operatorUrl,
    listenPort: input.listenPort ?? DEFAULT_INJECTION.listenPort,
    adminPort: input.adminPort ?? DEFAULT_INJECTION.adminPort,
    nativeSidecar: input.nativeSidecar ?? 'auto',
    tokenExpirationSeconds: input.tokenExpirationSeconds ?? DEFAULT_INJECTION.tokenExpirationSeconds,
    runAsUser: input.runAsUser === undefined ? DEFAULT_INJECTION.runAsUser : input.runAsUser,
    imagePullSecrets: Object.freeze([...new Set((input.imagePullSecrets ?? []).map((s) => s.name))]),
    args: Object.freeze([...(input.args ?? [])]),
    egressProxy: Object.freeze({ ...(input.egressProxy ?? {}) }),
    resources: {
      requests: input.resources?.requests ?? DEFAULT_INJECTION.resources.requests,
      limits: input.resources?.limits ?? DEFAULT_INJECTION.resources.limits,
    },
  });
}

/** Reads injection settings from a YAML file (the chart mounts it from a ConfigMap). */
export function loadInjectionSettings(path: string): InjectionSettings {
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('config_invalid', [{ path, message: fileErrorText(error) }]);
  }
  return parseInjectionSettings(value, path);
}
