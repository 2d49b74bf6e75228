import type { AssertionAlgorithm } from '../../../contract/api/authentication.ts';
import { API_VERSION } from '../../../contract/api/schema-helpers.ts';
import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import { APPLICATION_KEY } from '../../../contract/injection.ts';
import {
  generateApplicationKeys,
  keysFromSecretData,
  keysSecretName,
  keysToSecretData,
} from '../../../contract/keys.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { secretData, secretStrings } from '../../../lib/kube/secret-data.ts';
import {
  type KeyTimes,
  planSigningKeys,
  type RotationPlan,
  type RotationSchedule,
} from './signing-key-rotation.ts';

export const KEY_TIMES_ANNOTATION = 'gatehouse.dev/signing-key-times';

function keyTimes(secret: KubeObject): KeyTimes {
  try {
    return JSON.parse(secret.metadata.annotations?.[KEY_TIMES_ANNOTATION] ?? '{}') as KeyTimes;
  } catch {
    return {};
  }
}

/** A new keys Secret for an application, owned by it so it goes when the application goes. */
export function newKeysSecret(
  application: KubeObject,
  algorithm: AssertionAlgorithm,
  now: number,
): KubeObject {
  const keys = generateApplicationKeys(algorithm);
  const times: KeyTimes = Object.fromEntries(
    keys.signing.map((k) => [k.kid, { created: now, activated: now }]),
  );
  return keysSecret(application, keys, times);
}

function keysSecret(
  application: KubeObject,
  keys: ApplicationKeys,
  times: KeyTimes,
  base?: KubeObject,
): KubeObject {
  const { name, namespace, uid } = application.metadata;
  return {
    ...(base ?? {}),
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      ...(base?.metadata ?? {}),
      name: keysSecretName(name),
      ...(namespace ? { namespace } : {}),
      labels: {
        ...(base?.metadata.labels ?? {}),
        'app.kubernetes.io/managed-by': 'gatehouse',
        [APPLICATION_KEY]: name,
      },
      annotations: { ...(base?.metadata.annotations ?? {}), [KEY_TIMES_ANNOTATION]: JSON.stringify(times) },
      ownerReferences: uid
        ? [
            {
              apiVersion: application.apiVersion ?? API_VERSION,
              kind: 'AccessApplication',
              name,
              uid,
              controller: true,
            },
          ]
        : [],
    },
    data: secretData(keysToSecretData(keys)),
  };
}

/**
 * The keys Secret after one rotation step, or undefined when nothing is due. Cookie keys are kept;
 * an unreadable Secret is replaced by fresh keys (sessions then end; the Event says why).
 */
export function rotatedKeysSecret(
  application: KubeObject,
  secret: KubeObject,
  now: number,
  schedule: RotationSchedule,
): { secret: KubeObject; change: NonNullable<RotationPlan['change']> | 'regenerated' } | undefined {
  let keys: ApplicationKeys;
  try {
    keys = keysFromSecretData(secretStrings(secret)) as ApplicationKeys;
    if (!Array.isArray(keys.cookie) || !Array.isArray(keys.signing)) throw new Error('malformed');
  } catch {
    const fresh = newKeysSecret(application, schedule.algorithm, now);
    return {
      secret: { ...fresh, metadata: { ...fresh.metadata, resourceVersion: secret.metadata.resourceVersion } },
      change: 'regenerated',
    };
  }
  const plan = planSigningKeys(keys.signing, keyTimes(secret), now, schedule);
  if (!plan.change) return undefined;
  return {
    secret: keysSecret(application, { cookie: keys.cookie, signing: plan.signing }, plan.times, secret),
    change: plan.change,
  };
}
