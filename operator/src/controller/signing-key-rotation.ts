import type { AssertionAlgorithm } from '../../../contract/api/authentication.ts';
import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import { generateSigningJwk } from '../../../contract/keys.ts';

export const DEFAULT_ROTATION_MS = 30 * 24 * 3_600_000;
export const DEFAULT_OVERLAP_MS = 24 * 3_600_000;

type SigningJwk = ApplicationKeys['signing'][number];

/** When each signing key was created and, once it signs, when it started signing (epoch ms, by kid). */
export type KeyTimes = Record<string, { created: number; activated?: number }>;

export interface RotationSchedule {
  /** How long one key signs before the next takes over. */
  readonly rotationMs: number;
  /** How long a key is published before it signs, and kept after it stops signing. */
  readonly overlapMs: number;
  readonly algorithm: AssertionAlgorithm;
}

export interface RotationPlan {
  readonly signing: SigningJwk[];
  readonly times: KeyTimes;
  /** What changed, for the Kubernetes Event; undefined when nothing did. */
  readonly change?: 'published' | 'activated' | 'retired' | 'algorithm';
}

/**
 * Decides the next signing keys, given the current ones and the clock. The first key signs; every
 * key is published. Rotation runs in three steps, one per call, so verifiers always know a key
 * before it signs and keep the old one while its tokens can still be in flight:
 * publish a new key `overlap` before rotation is due, make it sign when due, and drop the old key
 * `overlap` later. A key of another algorithm than the configured one is replaced at once.
 */
export function planSigningKeys(
  signing: readonly SigningJwk[],
  times: KeyTimes,
  now: number,
  schedule: RotationSchedule,
): RotationPlan {
  const known: KeyTimes = {};
  for (const key of signing) known[key.kid] = times[key.kid] ?? { created: now, activated: now };
  const [active, ...others] = signing;
  if (!active || active.alg !== schedule.algorithm) {
    const fresh = generateSigningJwk(schedule.algorithm);
    return {
      signing: [fresh],
      times: { [fresh.kid]: { created: now, activated: now } },
      change: 'algorithm',
    };
  }
  const activeTimes = known[active.kid] as { created: number; activated?: number };
  const activatedAt = activeTimes.activated ?? activeTimes.created;
  const pending = others.filter((k) => (known[k.kid]?.created ?? 0) > activatedAt);
  const retired = others.filter((k) => !pending.includes(k));

  if (retired.length > 0 && now >= activatedAt + schedule.overlapMs) {
    const keep = [active, ...pending];
    return { signing: keep, times: pick(known, keep), change: 'retired' };
  }
  const next = pending[0];
  if (next && now >= activatedAt + schedule.rotationMs) {
    const order = [next, active, ...others.filter((k) => k !== next)];
    return {
      signing: order,
      times: {
        ...pick(known, order),
        [next.kid]: { created: known[next.kid]?.created ?? now, activated: now },
      },
      change: 'activated',
    };
  }
  if (!next && now >= activatedAt + schedule.rotationMs - schedule.overlapMs && signing.length < 4) {
    const fresh = generateSigningJwk(schedule.algorithm);
    const order = [...signing, fresh];
    return {
      signing: order,
      times: { ...pick(known, signing), [fresh.kid]: { created: now } },
      change: 'published',
    };
  }
  return { signing: [...signing], times: pick(known, signing) };
}

function pick(times: KeyTimes, keys: readonly SigningJwk[]): KeyTimes {
  return Object.fromEntries(keys.map((k) => [k.kid, times[k.kid] as KeyTimes[string]]));
}
