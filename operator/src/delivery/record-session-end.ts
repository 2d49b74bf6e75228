import { ACCESS_REVOCATIONS } from '../../../contract/api/resource-types.ts';
import {
  SESSION_END_ACCOUNT_LABEL,
  sessionEndRevocationName,
  sessionEndRevocationSpec,
} from '../../../contract/session-ends.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import type { OperatorLog } from '../operator-log.ts';
import type { RecordSessionEnd } from './session-ends-route.ts';

/**
 * Records session ends as AccessRevocations named after the end and its application
 * (`sessionEndRevocationName`): an end sent again (a sidecar whose answer was lost, or whose next
 * start sends what it had not seen through) finds its AccessRevocation there and is answered with
 * it, instead of adding one more to the application's bound.
 */
export function sessionEndRecorder(options: {
  readonly client: Pick<KubeClient, 'create'>;
  readonly log: OperatorLog;
  /** Told of each AccessRevocation written (not of an end found recorded). */
  readonly written: () => void;
}): RecordSessionEnd {
  return async (identity, end, receivedAtMs, account) => {
    const application = `${identity.namespace}/${identity.application}`;
    const name = sessionEndRevocationName(end, application);
    const creating = performance.now();
    let already = false;
    try {
      await options.client.create<KubeObject>(ACCESS_REVOCATIONS, undefined, {
        metadata: {
          name,
          ...(account !== undefined ? { labels: { [SESSION_END_ACCOUNT_LABEL]: account } } : {}),
        } as KubeObject['metadata'],
        spec: sessionEndRevocationSpec(end, application),
      });
      options.written();
    } catch (error) {
      if (!(error instanceof KubeApiError && error.code === 'conflict')) throw error;
      already = true;
    }
    options.log('session_end_recorded', {
      app: application,
      pod: identity.pod,
      revocation: name,
      reason: end.reason,
      already,
      // Where the time went: verifying the sidecar and reading the request, then the write.
      verifyMs: Math.round(creating - receivedAtMs),
      createMs: Math.round(performance.now() - creating),
    });
    return name;
  };
}
