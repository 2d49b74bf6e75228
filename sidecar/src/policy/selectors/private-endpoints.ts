import { NO_KEYS, setSelector } from '../set-selector.ts';

/**
 * Matches when the connection came through a listed private endpoint (`aws:vpce-…`,
 * `azure:<LinkID>`, `gcp:<connection id>`), as the PROXY header of a configured load balancer
 * named it: the same value the request line logs as `privateEndpoint`. Compared exactly.
 */
export const privateEndpoints = setSelector({
  kind: 'privateEndpoints',
  pass: 'private_endpoint_listed',
  fail: 'private_endpoint_not_listed',
  keysFor: (input) => (input.privateEndpoint === null ? NO_KEYS : [input.privateEndpoint]),
});
