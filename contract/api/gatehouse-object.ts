import Type, { type TObject } from 'typebox';
import { API_VERSION, Opt } from './schema-helpers.ts';
import { GatehouseStatus } from './status.ts';

/** The object metadata Gatehouse reads; other Kubernetes metadata fields are accepted and ignored. */
export const ObjectMeta = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      description: 'Name of the object (a DNS subdomain).',
    }),
    namespace: Opt(Type.String({ minLength: 1, maxLength: 63, description: 'Namespace of the object.' })),
    generation: Opt(Type.Integer({ description: 'Set by the API server.' })),
  },
  { description: 'Standard Kubernetes object metadata.' },
);

/** A top-level Gatehouse object: apiVersion, kind, metadata, the given spec, and a status the operator writes. */
export function GatehouseObject<
  const K extends string,
  S extends TObject,
  T extends TObject = typeof GatehouseStatus,
>(kind: K, spec: S, description: string, status: T = GatehouseStatus as unknown as T) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION, { description: `Always ${API_VERSION}.` }),
      kind: Type.Literal(kind, { description: `Always ${kind}.` }),
      metadata: ObjectMeta,
      spec,
      status: Opt(status),
    },
    { description },
  );
}
