import type { Condition } from '../../../contract/api/status.ts';
import { kubeTime } from '../../../lib/kube/kube-object.ts';

/** The Ready condition the operator wants, without its transition time. */
export interface DesiredReady {
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/** What every status the operator writes starts with; kinds add their own fields beside it. */
export interface StatusCore {
  observedGeneration?: number;
  conditions?: Condition[];
}

/** Longest condition message written; longer ones are cut (the API server allows 32 KiB). */
const MAX_MESSAGE = 4_000;

/**
 * The status to write: the Ready condition keeps its lastTransitionTime unless its status changes,
 * as metav1.Condition requires. Only the Ready condition: the status is applied server-side, so
 * the other condition types stay with whoever wrote them (the Protected condition has a field
 * manager of its own); carrying them here would write them back as this cache last saw them.
 */
export function desiredStatus<Extra extends object>(
  current: StatusCore | undefined,
  generation: number | undefined,
  ready: DesiredReady,
  now: Date,
  extra: Extra = {} as Extra,
): StatusCore & Extra {
  const previous = current?.conditions?.find((c) => c.type === 'Ready');
  const message =
    ready.message.length > MAX_MESSAGE ? `${ready.message.slice(0, MAX_MESSAGE - 1)}…` : ready.message;
  const condition: Condition = {
    ...withTransitionTime(
      { type: 'Ready', status: ready.status, reason: ready.reason, message },
      previous,
      now,
    ),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: [condition],
    ...extra,
  };
}

/**
 * A condition to write, with its lastTransitionTime: the previous condition's while the status
 * stays, else now, as metav1.Condition requires.
 */
export function withTransitionTime(
  desired: Omit<Condition, 'lastTransitionTime'>,
  previous: Condition | undefined,
  now: Date,
): Condition {
  return {
    ...desired,
    lastTransitionTime:
      previous && previous.status === desired.status ? previous.lastTransitionTime : kubeTime(now),
  };
}

/**
 * True when writing `next` would change nothing the operator owns (so no write is needed): the
 * Ready condition but for its transition time, and every other field of either status.
 */
export function sameStatus(current: StatusCore | undefined, next: StatusCore): boolean {
  if (!current) return false;
  const a = readyCondition(current);
  const b = readyCondition(next);
  const same =
    a?.status === b?.status &&
    a?.reason === b?.reason &&
    a?.message === b?.message &&
    a?.observedGeneration === b?.observedGeneration;
  if (!same) return false;
  const fields = new Set([...Object.keys(current), ...Object.keys(next)]);
  fields.delete('conditions');
  const field = (status: StatusCore, name: string) =>
    JSON.stringify((status as Record<string, unknown>)[name]);
  for (const name of fields) if (field(current, name) !== field(next, name)) return false;
  return true;
}

/** The Ready condition of a status, if any. */
export function readyCondition(status: StatusCore | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === 'Ready');
}
