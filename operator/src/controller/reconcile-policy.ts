import type { GatehouseStatus } from '../../../contract/api/status.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { policyProblems } from './application-inputs.ts';
import { type DesiredReady, desiredStatus, sameStatus } from './conditions.ts';
import { type ApplicationReconcilerContext, writeStatus } from './reconcile-application.ts';

/** Checks one AccessPolicy on its own (what the sidecar's compiler would refuse) and reports it in status. */
export async function reconcilePolicy(
  ctx: Pick<ApplicationReconcilerContext, 'client' | 'metrics' | 'isLeader' | 'now' | 'events'>,
  object: KubeObject | undefined,
): Promise<'ready' | 'not_ready' | 'skipped'> {
  if (!object || object.metadata.deletionTimestamp) return 'skipped';
  const problems = policyProblems(object);
  const ready: DesiredReady =
    problems.length === 0
      ? { status: 'True', reason: 'Valid', message: 'the policy compiles' }
      : {
          status: 'False',
          reason: 'PolicyInvalid',
          message: problems.map((e) => `${e.path}: ${e.message}`).join('; '),
        };
  const current = object.status as GatehouseStatus | undefined;
  const next = desiredStatus(current, object.metadata.generation, ready, ctx.now());
  if (ctx.isLeader() && !sameStatus(current, next)) {
    await writeStatus(ctx, object, next);
    if (ready.status === 'False')
      ctx.events.record(object, 'Warning', ready.reason, ready.message, ctx.now());
  }
  return ready.status === 'True' ? 'ready' : 'not_ready';
}
