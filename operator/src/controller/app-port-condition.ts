/**
 * The AccessApplication condition that says whether the application's own port is closed to the
 * cluster by NetworkPolicies (app-port-exposure.ts). Written with the Protected condition, by the
 * same field manager.
 */

import type { Condition } from '../../../contract/api/status.ts';
import type { AppPortExposure } from './app-port-exposure.ts';

/** The condition type on AccessApplication status. */
export const APP_PORT_CONDITION = 'AppPortClosed';

/** What an application whose port is open can do about it, in every False message. */
const REMEDY =
  'have the application verify the signed identity JWT rather than trust the headers, and close the port ' +
  'with a NetworkPolicy that admits every port of its pods but that one (docs/injection.md, Limits)';

/** The AppPortClosed condition an application should carry, without its transition time. */
export function appPortCondition(exposure: AppPortExposure): Omit<Condition, 'lastTransitionTime'> {
  switch (exposure.kind) {
    case 'no_pods':
      return {
        type: APP_PORT_CONDITION,
        status: 'Unknown',
        reason: 'NoInjectedPods',
        message: 'no pod of the application runs the Gatehouse sidecar yet',
      };
    case 'closed':
      return {
        type: APP_PORT_CONDITION,
        status: 'True',
        reason: 'NetworkPolicyCloses',
        message:
          `NetworkPolic${exposure.policies.length === 1 ? 'y' : 'ies'} ${exposure.policies.join(', ')} ` +
          `isolate${exposure.policies.length === 1 ? 's' : ''} the application\u2019s pods and admit${exposure.policies.length === 1 ? 's' : ''} ` +
          `none of their own port ${exposure.port}: only the sidecar reaches the application, where the ` +
          'cluster\u2019s network plugin enforces NetworkPolicies',
      };
    case 'not_isolated':
      return {
        type: APP_PORT_CONDITION,
        status: 'False',
        reason: 'NoNetworkPolicy',
        message:
          `no NetworkPolicy selects pod ${exposure.pod} for ingress, so any pod of the cluster reaches the ` +
          `application\u2019s own port ${exposure.port} at the pod\u2019s address, past the sidecar, with any ` +
          `identity headers it likes: ${REMEDY}`,
      };
    case 'admitted':
      return {
        type: APP_PORT_CONDITION,
        status: 'False',
        reason: 'NetworkPolicyAdmits',
        message:
          `NetworkPolicy ${exposure.policy} admits the application\u2019s own port ${exposure.port} of pod ` +
          `${exposure.pod} (ingress[${exposure.rule}], ${exposure.fromAnywhere ? 'from anywhere' : 'from the peers it lists'}), ` +
          `so those reach the application past the sidecar, with any identity headers they like: ${REMEDY}`,
      };
  }
}
