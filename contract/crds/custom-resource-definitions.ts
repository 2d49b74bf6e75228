import { createHash } from 'node:crypto';
import { AccessApplication } from '../api/access-application.ts';
import { AccessPolicy } from '../api/access-policy.ts';
import { AccessRevocation } from '../api/access-revocation.ts';
import { API_GROUP } from '../api/schema-helpers.ts';
import { type StructuralSchema, structuralSchema } from './structural-schema.ts';

export const CRD_VERSION = 'v1alpha1';
export const CATEGORY = 'gatehouse';

/**
 * The annotation each CRD carries: a digest of its spec (schema, names, columns) as this version
 * generates it. The operator compares it with its own: `helm upgrade` does not touch CRDs, and an
 * API server with an older schema drops the fields it does not know from every object written.
 */
export const SCHEMA_DIGEST_ANNOTATION = 'gatehouse.dev/schema-digest';

/** `sha256:<hex>` of a CRD spec as generated (its key order is the code's, so stable). */
export function schemaDigest(spec: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(spec)).digest('hex')}`;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

interface KindNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
}

const READY_COLUMN: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Whether the operator accepted the object and sidecars get it.',
};
const REASON_COLUMN: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Why the object is or is not ready.',
  priority: 1,
};
const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

export const APPLICATION_NAMES: KindNames = {
  kind: 'AccessApplication',
  plural: 'accessapplications',
  singular: 'accessapplication',
  shortNames: ['gapp', 'accessapp'],
};

export const REVOCATION_NAMES: KindNames = {
  kind: 'AccessRevocation',
  plural: 'accessrevocations',
  singular: 'accessrevocation',
  shortNames: ['grev', 'accessrev'],
};

export const POLICY_NAMES: KindNames = {
  kind: 'AccessPolicy',
  plural: 'accesspolicies',
  singular: 'accesspolicy',
  shortNames: ['gpol', 'accesspol'],
};

function objectSchema(schema: StructuralSchema): StructuralSchema {
  const properties = schema.properties ?? {};
  const { spec, status } = properties;
  if (!spec || !status) throw new Error('a Gatehouse object schema has spec and status');
  return {
    type: 'object',
    description: schema.description ?? '',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: `Always ${API_GROUP}/${CRD_VERSION}.` },
      kind: { type: 'string', description: 'Kind of the object.' },
      metadata: { type: 'object' },
      spec,
      status,
    },
  };
}

function customResourceDefinition(
  names: KindNames,
  schema: StructuralSchema,
  columns: PrinterColumn[],
  scope: 'Namespaced' | 'Cluster' = 'Namespaced',
) {
  const spec = {
    group: API_GROUP,
    scope,
    names: { ...names, listKind: `${names.kind}List`, categories: [CATEGORY] },
    versions: [
      {
        name: CRD_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: columns,
        schema: { openAPIV3Schema: objectSchema(schema) },
      },
    ],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${names.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'gatehouse', 'app.kubernetes.io/component': 'crd' },
      annotations: { [SCHEMA_DIGEST_ANNOTATION]: schemaDigest(spec) },
    },
    spec,
  };
}

/** The CustomResourceDefinitions of Gatehouse, generated from the same TypeBox schemas the sidecar validates with. */
export function customResourceDefinitions() {
  return {
    accessApplication: customResourceDefinition(APPLICATION_NAMES, structuralSchema(AccessApplication), [
      READY_COLUMN,
      {
        name: 'Protected',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Protected")].status',
        description:
          'Whether every pod of the application runs the sidecar (False: some are reachable without it).',
      },
      {
        name: 'Hosts',
        type: 'string',
        jsonPath: '.spec.hosts',
        description: 'Host names of the application.',
      },
      {
        name: 'Upstream',
        type: 'string',
        jsonPath: '.spec.upstream.url',
        description: 'Where requests go.',
        priority: 1,
      },
      REASON_COLUMN,
      AGE_COLUMN,
    ]),
    accessPolicy: customResourceDefinition(POLICY_NAMES, structuralSchema(AccessPolicy), [
      {
        name: 'Decision',
        type: 'string',
        jsonPath: '.spec.decision',
        description: 'allow, deny, bypass or service-auth.',
      },
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'enforce or audit.' },
      READY_COLUMN,
      REASON_COLUMN,
      AGE_COLUMN,
    ]),
    accessRevocation: customResourceDefinition(
      REVOCATION_NAMES,
      structuralSchema(AccessRevocation),
      [
        { name: 'User', type: 'string', jsonPath: '.spec.user', description: 'Whose sessions end.' },
        // What the others name, for -o wide: a sign-out's names its session, a back-channel
        // logout's the provider session, a revocation of a user without an email the subject.
        {
          name: 'Subject',
          type: 'string',
          jsonPath: '.spec.subject',
          description: 'Whose sessions end, by subject (OIDC sub).',
          priority: 1,
        },
        {
          name: 'Session',
          type: 'string',
          jsonPath: '.spec.session',
          description: 'The one session that ends (a sign-out, gatehouse revoke --session).',
          priority: 1,
        },
        {
          name: 'Provider Session',
          type: 'string',
          jsonPath: '.spec.providerSession',
          description:
            'The identity provider session whose sessions end (a back-channel or front-channel logout).',
          priority: 1,
        },
        {
          name: 'Applications',
          type: 'string',
          jsonPath: '.status.applications',
          description: 'Where it is enforced.',
          priority: 1,
        },
        READY_COLUMN,
        {
          name: 'Expires',
          type: 'string',
          jsonPath: '.status.expiresAt',
          description: 'When the operator deletes it.',
        },
        AGE_COLUMN,
      ],
      'Cluster',
    ),
  };
}
