import { boundedCache } from '../../../lib/bounded-cache.ts';
import { type TokenBucketRate, TokenBuckets } from '../../../lib/token-buckets.ts';
import type { EventRecorder } from '../controller/event-recorder.ts';

/** The pod a config stream serves, as an Event names it. */
export interface StreamPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Tells the pods whose sidecars wait for a config why, where `kubectl describe pod` shows it. */
export interface PodWaitingEvents {
  /** A `waiting` line went to the pod's sidecar; `serving` when it had a config before (it keeps it). */
  waiting(pod: StreamPod, reason: string, message: string, serving?: boolean): void;
  /** A config went to the pod's sidecar: said once, to a pod that was told it waits. */
  configured(pod: StreamPod): void;
}

export interface PodWaitingEventOptions {
  /** A pod still waiting for the same reason is told again after this long (default 10 minutes). */
  readonly repeatMs?: number;
  /** Events of this kind in all, across pods (default a burst of 50, then 5 a second). */
  readonly rate?: TokenBucketRate;
  /** Pods remembered at once (default 20,000; the least recent is forgotten first). */
  readonly maxPods?: number;
  readonly now?: () => number;
}

/** The reason of the Normal Event once the sidecar of a pod told to wait has its config. */
export const CONFIG_RECEIVED_REASON = 'SidecarConfigured';

/**
 * A pod whose sidecar waits shows `Readiness probe failed: ... 503` and nothing more; its sidecar's
 * log says why (`config_waiting`), but the first place a platform engineer looks is the pod. So the
 * operator records a Warning Event on the Pod with the reason the stream sent (its reason:
 * `ApplicationNotFound`, `ProviderSecretMissing`, ...), once per pod and reason (again after
 * repeatMs if the pod still waits then), and a Normal one once the config comes. The Events are
 * rate-limited in all, so a thousand pods of a missing application cost the API server a burst
 * and then a few writes a second; past the rate, an Event is dropped (the log line stays).
 */
export function podWaitingEvents(
  recorder: Pick<EventRecorder, 'record'>,
  options: PodWaitingEventOptions = {},
): PodWaitingEvents {
  const told = boundedCache<string, string>(options.maxPods ?? 20_000, {
    ttlMs: options.repeatMs ?? 10 * 60_000,
  });
  const budget = new TokenBuckets(options.rate ?? { burst: 50, perSecond: 5 }, {
    maxKeys: 1,
    ...(options.now ? { now: options.now } : {}),
  });
  const record = (pod: StreamPod, type: 'Normal' | 'Warning', reason: string, message: string): boolean => {
    if (budget.take('events') !== 0) return false;
    recorder.record(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid } },
      type,
      reason,
      message,
    );
    return true;
  };
  return {
    waiting(pod, reason, message, serving = false) {
      if (told.get(pod.uid) === reason) return;
      const state = serving
        ? 'The gatehouse sidecar keeps serving its last config'
        : 'The gatehouse sidecar has no config yet';
      if (record(pod, 'Warning', reason, `${state}: ${message}`)) told.set(pod.uid, reason);
    },
    configured(pod) {
      if (!told.has(pod.uid)) return;
      told.delete(pod.uid);
      record(pod, 'Normal', CONFIG_RECEIVED_REASON, 'The gatehouse sidecar has its config.');
    },
  };
}
