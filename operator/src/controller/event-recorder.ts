import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { type KubeObject, kubeTime } from '../../../lib/kube/kube-object.ts';
import { EVENTS } from '../../../lib/kube/resource-types.ts';

export const EVENT_SOURCE = 'gatehouse-operator';

/** Writes Kubernetes Events about objects (what `kubectl describe` shows); failures are reported, never thrown. */
export class EventRecorder {
  readonly #client: KubeClient;
  readonly #onError: (error: unknown) => void;

  constructor(client: KubeClient, onError: (error: unknown) => void) {
    this.#client = client;
    this.#onError = onError;
  }

  record(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now = new Date(),
  ): void {
    const { name, namespace = 'default', uid, resourceVersion } = object.metadata;
    const time = kubeTime(now);
    void this.#client
      .create(EVENTS, namespace, {
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name,
          namespace,
          uid,
          resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        reportingInstance: process.env.HOSTNAME ?? EVENT_SOURCE,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      })
      .catch(this.#onError);
  }
}
