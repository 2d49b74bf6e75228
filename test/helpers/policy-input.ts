import type { PolicyIdentity, PolicyInput } from '../../sidecar/src/policy/input.ts';

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
