import Type, { type Static } from 'typebox';
import { Opt, StringEnum } from './schema-helpers.ts';

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** A metav1.Condition, as every Kubernetes controller reports it. */
export const Condition = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      description: 'Type of condition in CamelCase, such as Ready.',
    }),
    status: StringEnum(CONDITION_STATUSES, { description: 'True, False or Unknown.' }),
    observedGeneration: Opt(
      Type.Integer({ minimum: 0, description: 'The metadata.generation this condition was computed from.' }),
    ),
    lastTransitionTime: Type.String({
      format: 'date-time',
      description: 'When the condition last changed status.',
    }),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      description: 'A CamelCase code for the last transition, such as PolicyNotFound.',
    }),
    message: Type.String({ maxLength: 32768, description: 'What happened, for humans.' }),
  },
  { additionalProperties: false, description: 'One aspect of the current state of the object.' },
);

/** The fields every Gatehouse status starts with: the generation acted on and the conditions (a list-map on type). */
export function StatusBase(conditionsDescription: string) {
  return {
    observedGeneration: Opt(
      Type.Integer({ minimum: 0, description: 'The metadata.generation the operator last acted on.' }),
    ),
    conditions: Opt(
      Type.Array(Condition, {
        maxItems: 16,
        description: conditionsDescription,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
  };
}

/** Status written by the operator on AccessApplications and AccessPolicies. */
export const GatehouseStatus = Type.Object(
  {
    ...StatusBase(
      'Current state; the Ready condition says whether sidecars get this object in their config; on an AccessApplication, the Protected condition whether every pod of it runs the sidecar (False names the pods reachable without it).',
    ),
    configHash: Opt(
      Type.String({
        maxLength: 128,
        description: 'Hash of the sidecar config last rendered (AccessApplication only).',
      }),
    ),
  },
  { additionalProperties: false, description: 'Observed state, written by the operator.' },
);

export type Condition = Static<typeof Condition>;
export type GatehouseStatus = Static<typeof GatehouseStatus>;
