import type { TSchema } from 'typebox';

/** The subset of OpenAPI v3 that a CRD's structural schema allows. */
export interface StructuralSchema {
  type?: string;
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  items?: StructuralSchema;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: unknown[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const COPIED = [
  'type',
  'description',
  'required',
  'enum',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
] as const;

/**
 * Converts a TypeBox schema into a CRD structural schema: keeps the keywords
 * the API server understands, turns `const` into a one-value enum, and drops
 * `additionalProperties: false` (the API server prunes and, with strict field
 * validation, reports unknown fields instead). minProperties/maxProperties are
 * left out too: where they are used, a CEL rule says the same more clearly.
 */
export function structuralSchema(schema: TSchema): StructuralSchema {
  const source = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of COPIED) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  if (source.const !== undefined) {
    out.enum = [source.const];
    out.type ??= typeof source.const;
  }
  if (source.properties) {
    out.type = 'object';
    out.properties = Object.fromEntries(
      Object.entries(source.properties as Record<string, TSchema>).map(([name, child]) => [
        name,
        structuralSchema(child),
      ]),
    );
  }
  if (source.items) out.items = structuralSchema(source.items as TSchema);
  if (out.type === undefined) {
    throw new Error(`schema without a type cannot be structural: ${JSON.stringify(source).slice(0, 120)}`);
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out as StructuralSchema;
}
