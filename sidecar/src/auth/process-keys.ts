import type { AssertionAlgorithm } from '../../../contract/api/authentication.ts';
import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import { generateApplicationKeys } from '../../../contract/keys.ts';

/**
 * Keys generated once per process for standalone mode when the files hold no keys Secret:
 * stable across reloads, lost on restart (sessions then end). Memoised per algorithm.
 */
export function processKeys(): (algorithm: AssertionAlgorithm) => ApplicationKeys {
  const byAlgorithm = new Map<AssertionAlgorithm, ApplicationKeys>();
  return (algorithm) => {
    let keys = byAlgorithm.get(algorithm);
    if (!keys) {
      keys = generateApplicationKeys(algorithm);
      byAlgorithm.set(algorithm, keys);
    }
    return keys;
  };
}
