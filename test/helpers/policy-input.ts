import type { AccessPolicySpec } from '../../contract/api/access-policy.ts';
import type { RenderedPolicy } from '../../contract/config/rendered-policy.ts';
import type { PolicyIdentity, PolicyInput } from '../../sidecar/src/policy/input.ts';

/** A policy as the sidecar compiles it, from the spec an AccessPolicy writes (enforced, empty lists unless given). */
export function renderedPolicy(name: string, spec: AccessPolicySpec): RenderedPolicy {
  return {
    name,
    decision: spec.decision,
    mode: spec.mode ?? 'enforce',
    include: spec.include,
    require: spec.require ?? [],
    exclude: spec.exclude ?? [],
  };
}

/** A signed-in user identity for policy tests; override only what a case exercises. */
export function user(overrides: Partial<PolicyIdentity> = {}): PolicyIdentity {
  return {
    kind: 'user',
    sub: 'u-1',
    email: 'ann@example.com',
    groups: [],
    idp: 'corp',
    claims: {},
    serviceTokenId: null,
    serviceAccount: null,
    ...overrides,
  };
}

/** One request as policies see it; anonymous GET / from 203.0.113.7, no private endpoint, unless overridden. */
export function request(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    identity: null,
    clientIp: '203.0.113.7',
    privateEndpoint: null,
    path: '/',
    method: 'GET',
    ...overrides,
  };
}
