import type { Condition, GatehouseStatus } from '../../../sidecar/src/api/status.ts';
import { kubeTime } from '../kube/kube-object.ts';

/** The Ready condition the operator wants, without its transition time. */
export interface DesiredReady {
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/** Longest condition message written; longer ones are cut (the API server allows 32 KiB). */
const MAX_MESSAGE = 4_000;

/**
 * The status to write: the Ready condition keeps its lastTransitionTime unless its status changes,
 * as metav1.Condition requires; other condition types written by others are kept.
 */
export function desiredStatus(
  current: GatehouseStatus | undefined,
  generation: number | undefined,
  ready: DesiredReady,
  now: Date,
  extra: { configHash?: string } = {},
): GatehouseStatus {
  const previous = current?.conditions?.find((c) => c.type === 'Ready');
  const message =
    ready.message.length > MAX_MESSAGE ? `${ready.message.slice(0, MAX_MESSAGE - 1)}…` : ready.message;
  const condition: Condition = {
    type: 'Ready',
    status: ready.status,
    reason: ready.reason,
    message,
    lastTransitionTime:
      previous && previous.status === ready.status ? previous.lastTransitionTime : kubeTime(now),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: [condition, ...(current?.conditions ?? []).filter((c) => c.type !== 'Ready')],
    ...(extra.configHash ? { configHash: extra.configHash } : {}),
  };
}

/** True when writing `next` would change nothing the operator owns (so no write is needed). */
export function sameStatus(current: GatehouseStatus | undefined, next: GatehouseStatus): boolean {
  if (!current) return false;
  const a = current.conditions?.find((c) => c.type === 'Ready');
  const b = next.conditions?.find((c) => c.type === 'Ready');
  return (
    current.observedGeneration === next.observedGeneration &&
    current.configHash === next.configHash &&
    a?.status === b?.status &&
    a?.reason === b?.reason &&
    a?.message === b?.message &&
    a?.observedGeneration === b?.observedGeneration
  );
}

/** The Ready condition of a status, if any. */
export function readyCondition(status: GatehouseStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === 'Ready');
}
