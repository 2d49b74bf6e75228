import type { PolicyDecision } from '../../../contract/api/access-policy.ts';
import type { DecisionReason } from './reasons.ts';

/** Why a request was allowed or refused: the action, the policy, the rule and a reason code. */
export interface Decision {
  readonly action: PolicyDecision;
  /** `namespace/name` of the deciding policy (just `name` in file mode); null for deny by default. */
  readonly policy: string | null;
  /** Which selector of that policy decided, e.g. `include[1].groups`; null when none did. */
  readonly rule: string | null;
  readonly reason: DecisionReason;
}

/** True when a decision lets the request through to the upstream. */
export function admits(decision: Decision): boolean {
  return decision.action !== 'deny';
}
