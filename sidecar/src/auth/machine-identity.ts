import type { PolicyIdentity } from '../policy/input.ts';

/** The identity of a caller that presented a valid service token. */
export function serviceTokenIdentity(tokenId: string): PolicyIdentity {
  return {
    kind: 'service-token',
    sub: `service-token:${tokenId}`,
    email: null,
    groups: [],
    idp: null,
    claims: {},
    serviceTokenId: tokenId,
    serviceAccount: null,
  };
}

/** The identity of a Kubernetes ServiceAccount, with the groups the API server gives it. */
export function serviceAccountIdentity(namespace: string, name: string): PolicyIdentity {
  return {
    kind: 'service-account',
    sub: `system:serviceaccount:${namespace}:${name}`,
    email: null,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
    idp: null,
    claims: {},
    serviceTokenId: null,
    serviceAccount: { namespace, name },
  };
}
