/**
 * What `gatehouse explain` says of a request the sidecar answers itself: its readiness route and
 * the identity JWT's keys (before the Host is checked), and every path under a reserved prefix
 * (after). No policy decides those, and none reaches the application.
 */
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import type { HostMatcher } from '../../../lib/net/host.ts';
import { gatewayPaths, ROOT_GATEWAY_PREFIX } from '../auth/gateway-paths.ts';
import { isReservedPath } from '../pipeline/stages/gateway-routes.ts';
import { isKeysTarget, isOtherHost, KEYS_PATH } from '../pipeline/stages/keys-route.ts';
import { isReadinessTarget, READINESS_PATH } from '../pipeline/stages/readiness-route.ts';

/** A request answered by the sidecar itself: which of its routes, and what it gets. */
export interface SidecarAnswer {
  readonly route: 'readiness' | 'keys' | 'reserved';
  readonly says: string;
}

/**
 * The answer to a request the sidecar takes before it checks the Host (readiness-route.ts,
 * keys-route.ts); null for every other. `host` undefined is the application's own.
 */
export function answerBeforeHostCheck(
  method: string,
  target: string,
  host: string | undefined,
  config: SidecarConfig,
  hosts: HostMatcher,
): SidecarAnswer | null {
  if (isReadinessTarget(method, target))
    return {
      route: 'readiness',
      says: `its readiness route (${READINESS_PATH}), for load balancers, whatever the Host: 200 while the sidecar is ready, 503 from SIGTERM on`,
    };
  if (config.keys !== null && host !== undefined && isKeysTarget(method, target) && isOtherHost(host, hosts))
    return {
      route: 'keys',
      says: `the public keys of the identity JWT (${KEYS_PATH}), for a Host that is not the application\u2019s, as the application in the pod fetches them over loopback`,
    };
  return null;
}

/** The answer to a request whose canonical path is under a reserved prefix; null for every other. */
export function answerUnderReservedPrefix(path: string, config: SidecarConfig): SidecarAnswer | null {
  const prefix = config.keys === null ? undefined : gatewayPaths(config.auth.basePath ?? '').prefix;
  if (!isReservedPath(path, prefix)) return null;
  const own = prefix !== undefined && path.startsWith(prefix);
  return {
    route: 'reserved',
    says: own
      ? `a path under its reserved prefix ${prefix} (sign-in, callback, sign-out, the keys, the identity document, the session page; 404 for any other path there, or another method)`
      : `a path under the root\u2019s reserved prefix ${ROOT_GATEWAY_PREFIX}: 404${config.keys === null ? ' (the application authenticates nobody, so it has no sign-in routes)' : ` (the application\u2019s routes are under ${prefix})`}`,
  };
}
