import Type, { type TSchema } from 'typebox';
import { DURATION_PATTERN } from '../../lib/duration.ts';

export const API_GROUP = 'gatehouse.dev';
export const API_VERSION = 'gatehouse.dev/v1alpha1';

/** A string restricted to a fixed set of values; renders as a JSON Schema `enum`, which CRDs need. */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description: string }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A duration such as `500ms`, `30s`, `5m` or `1h30m` (the subset of Go's time.ParseDuration Kubernetes users know). */
export function Duration(description: string) {
  return Type.String({ pattern: DURATION_PATTERN, maxLength: 32, description });
}

/** An HTTP header field name (RFC 9110 token). */
export function HeaderName(description: string) {
  return Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", minLength: 1, maxLength: 128, description });
}

/** Optional field with a description, so every field documents itself in `kubectl explain`. */
export function Opt<T extends TSchema>(schema: T) {
  return Type.Optional(schema);
}

/** Attaches a CEL rule (x-kubernetes-validations) that the API server enforces; standalone validation runs the same check in render. */
export function cel(rule: string, message: string, fieldPath?: string) {
  return { rule, message, ...(fieldPath ? { fieldPath } : {}) };
}

/** A CEL rule true when exactly one of these fields is set. */
export function exactlyOneOf(fields: readonly string[]): string {
  return `[${fields.map((f) => `has(self.${f})`).join(', ')}].exists_one(set, set)`;
}

/** An IPv4/IPv6 address or CIDR range; the API server checks the syntax with CEL, the sidecar again at render. */
export function IpOrCidr() {
  return Type.String({
    minLength: 2,
    maxLength: 64,
    description: 'An IPv4 or IPv6 address or CIDR range.',
    'x-kubernetes-validations': [
      cel('isIP(self) || isCIDR(self)', 'must be an IP address or a CIDR range such as 10.0.0.0/8'),
    ],
  });
}
