import type { AssertionAlgorithm } from '../../../contract/api/authentication.ts';
import { ACCESS_APPLICATIONS, ACCESS_POLICIES } from '../../../contract/api/resource-types.ts';
import type { GatehouseStatus } from '../../../contract/api/status.ts';
import { renderSidecarConfig } from '../../../contract/config/render.ts';
import { assertionAlgorithm } from '../../../contract/config/render-auth.ts';
import { keysSecretName } from '../../../contract/keys.ts';
import { type RevocationView, revocationsFor, sessionLifetimeMs } from '../../../contract/revocations.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import { type KubeObject, objectKey, splitKey } from '../../../lib/kube/kube-object.ts';
import { SECRETS } from '../../../lib/kube/resource-types.ts';
import type { ConfigHub } from '../delivery/config-hub.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { gatherInputs, type ObjectLookup, validApplication } from './application-inputs.ts';
import { type DesiredReady, desiredStatus, readyCondition, sameStatus } from './conditions.ts';
import type { EventRecorder } from './event-recorder.ts';
import { earlierHolder } from './external-urls.ts';
import { newKeysSecret, rotatedKeysSecret } from './keys-secret.ts';
import { publishRevocations } from './publish-revocations.ts';

/** What reconciling an application needs; the clock is injected so tests control rotation. */
export interface ApplicationReconcilerContext {
  readonly client: KubeClient;
  readonly applications: ObjectLookup;
  readonly policies: ObjectLookup;
  readonly secrets: ObjectLookup;
  readonly hub: ConfigHub;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly isLeader: () => boolean;
  readonly now: () => Date;
  readonly rotation: { readonly rotationMs: number; readonly overlapMs: number };
  /** The AccessRevocations in force, read at the boundary. */
  readonly revocations: () => Iterable<RevocationView>;
  /** The other applications (namespace/name) that sign people in at this one's external URL. */
  readonly sameExternalUrl?: (key: string) => readonly string[];
  /** Called with the Ready status of every application after each reconcile (undefined when deleted). */
  readonly onReady?: (key: string, ready: DesiredReady['status'] | undefined) => void;
}

const list = (names: string[]): string => names.map((n) => JSON.stringify(n)).join(', ');

/**
 * Level-based and idempotent: from the cached objects, make sure the keys Secret exists and
 * rotates, render the sidecar config, serve it, and write status only when it changes. Every
 * replica renders and serves; only the leader writes.
 */
export async function reconcileApplication(
  ctx: ApplicationReconcilerContext,
  key: string,
): Promise<'ready' | 'not_ready' | 'skipped'> {
  const object = ctx.applications.get(key);
  if (!object || object.metadata.deletionTimestamp) {
    ctx.hub.remove(key);
    ctx.onReady?.(key, undefined);
    return 'skipped';
  }
  const { namespace } = splitKey(key);
  const { application, errors: schemaProblems } = validApplication(object);
  if (!application) {
    publishRevocations(ctx, key);
    return finish(ctx, key, object, undefined, {
      status: 'False',
      reason: 'InvalidSpec',
      message: schemaProblems.map((e) => `${e.path}: ${e.message}`).join('; '),
    });
  }
  const algorithm: AssertionAlgorithm = assertionAlgorithm(application.spec.authentication);
  const secretKey = `${namespace}/${keysSecretName(application.metadata.name)}`;
  const keysSecret = ctx.secrets.get(secretKey);
  let keysOverride: KubeObject | undefined;
  if (!keysSecret) {
    if (!ctx.isLeader()) {
      publishRevocations(ctx, key, sessionLifetimeMs(application));
      return finish(ctx, key, object, undefined, {
        status: 'Unknown',
        reason: 'KeysPending',
        message: 'waiting for the keys Secret',
      });
    }
    keysOverride = await createKeys(ctx, object, algorithm);
  } else if (ctx.isLeader()) {
    const rotated = rotatedKeysSecret(object, keysSecret, ctx.now().getTime(), {
      ...ctx.rotation,
      algorithm,
    });
    if (rotated) {
      keysOverride = await ctx.client.replace(SECRETS, rotated.secret);
      ctx.metrics.writes.inc({ what: 'keys' });
      ctx.events.record(
        object,
        'Normal',
        'SigningKeyRotated',
        `signing keys: ${rotated.change} (Secret ${keysSecretName(application.metadata.name)})`,
        ctx.now(),
      );
    }
  }
  const secrets: ObjectLookup = keysOverride
    ? { get: (k) => (k === secretKey ? keysOverride : ctx.secrets.get(k)) }
    : ctx.secrets;
  const inputs = gatherInputs(application, ctx.policies, secrets);
  const result = renderSidecarConfig({
    application,
    policies: inputs.policies,
    secrets: inputs.secrets,
    keys: inputs.keys,
    revocations: revocationsFor(key, sessionLifetimeMs(application), ctx.revocations(), ctx.now()),
  });
  if (result.ok && ctx.hub.publish(key, result.config, inputs.jwks)) ctx.metrics.configPushes.inc();
  if (!result.ok) publishRevocations(ctx, key, sessionLifetimeMs(application));

  const holder = earlierHolder(
    object,
    (ctx.sameExternalUrl?.(key) ?? []).flatMap((other) => ctx.applications.get(other) ?? []),
  );
  let ready: DesiredReady;
  if (inputs.missingPolicies.length > 0) {
    ready = {
      status: 'False',
      reason: 'PolicyNotFound',
      message: `AccessPolicy ${list(inputs.missingPolicies)} not found in namespace ${namespace}; enforced as deny-everyone until it exists`,
    };
  } else if (inputs.invalidPolicies.length > 0) {
    ready = {
      status: 'False',
      reason: 'PolicyInvalid',
      message: `AccessPolicy ${list(inputs.invalidPolicies)} is invalid (see its status); enforced as deny-everyone`,
    };
  } else if (inputs.missingSecrets.length > 0) {
    ready = {
      status: 'False',
      reason: 'ProviderSecretMissing',
      message: `${inputs.missingSecrets.join('; ')} not found${result.ok ? '' : '; sidecars keep their last good config; revocations still reach them'}`,
    };
  } else if (inputs.missingUpstreamSecrets.length > 0) {
    ready = {
      status: 'False',
      reason: 'UpstreamSecretMissing',
      message: `${inputs.missingUpstreamSecrets.join('; ')} not found${result.ok ? '' : '; sidecars keep their last good config; revocations still reach them'}`,
    };
  } else if (!result.ok) {
    const tooMany = result.errors.some((e) => e.path === 'revocations');
    ready = {
      status: 'False',
      reason: 'InvalidConfig',
      message: `${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}; sidecars keep their last good config; ${tooMany ? 'new revocations reach them once fewer cover it (delete the ones no longer needed)' : 'revocations still reach them'}`,
    };
  } else if (inputs.unknownProviders.length > 0) {
    const known = (application.spec.authentication?.identityProviders ?? []).map((p) => p.name);
    ready = {
      status: 'False',
      reason: 'IdentityProviderNotFound',
      message: `${inputs.unknownProviders.join('; ')}, an identity provider this application does not have (it has: ${known.length > 0 ? known.join(', ') : 'none'}); that selector never matches`,
    };
  } else if (holder !== undefined) {
    ready = {
      status: 'False',
      reason: 'ExternalUrlInUse',
      message: `externalUrl ${application.spec.authentication?.externalUrl} is also the externalUrl of AccessApplication ${objectKey(holder)}, created earlier: the ingress sends the sign-in callbacks of that URL to one of them only, so the users of the other cannot finish signing in. Give this application its own host, or its own path of the host (externalUrl https://<host>/<path>, with the ingress routing that path to it)`,
    };
  } else {
    const policies = application.spec.policies?.length ?? 0;
    ready = {
      status: 'True',
      reason: 'Ready',
      message: `serving ${application.spec.hosts.length} host(s) with ${policies} polic${policies === 1 ? 'y' : 'ies'}`,
    };
  }
  return finish(ctx, key, object, result.ok ? result.config.generation : undefined, ready);
}

async function createKeys(
  ctx: ApplicationReconcilerContext,
  application: KubeObject,
  algorithm: AssertionAlgorithm,
): Promise<KubeObject> {
  const secret = newKeysSecret(application, algorithm, ctx.now().getTime());
  try {
    const created = await ctx.client.create(SECRETS, application.metadata.namespace, secret);
    ctx.metrics.writes.inc({ what: 'keys' });
    ctx.events.record(
      application,
      'Normal',
      'KeysCreated',
      `created Secret ${secret.metadata.name} with cookie and signing keys`,
      ctx.now(),
    );
    return created;
  } catch (error) {
    if (!(error instanceof KubeApiError && error.code === 'conflict')) throw error;
    const existing = await ctx.client.get(SECRETS, application.metadata.namespace, secret.metadata.name);
    if (!existing) throw error;
    return existing;
  }
}

async function finish(
  ctx: ApplicationReconcilerContext,
  key: string,
  object: KubeObject,
  configHash: string | undefined,
  ready: DesiredReady,
): Promise<'ready' | 'not_ready'> {
  ctx.onReady?.(key, ready.status);
  // Sidecars without a config yet learn why they wait (a published config makes it moot).
  if (ready.status !== 'True') ctx.hub.wait(key, ready.reason, ready.message);
  const current = object.status as GatehouseStatus | undefined;
  const next = desiredStatus(
    current,
    object.metadata.generation,
    ready,
    ctx.now(),
    configHash ? { configHash } : {},
  );
  if (ctx.isLeader() && !sameStatus(current, next)) {
    await writeStatus(ctx, object, next);
    const before = readyCondition(current);
    if (before?.status !== ready.status || before?.reason !== ready.reason) {
      ctx.events.record(
        object,
        ready.status === 'True' ? 'Normal' : 'Warning',
        ready.reason,
        ready.message,
        ctx.now(),
      );
    }
  }
  return ready.status === 'True' ? 'ready' : 'not_ready';
}

/** Applies status under the operator's field manager. */
export async function writeStatus(
  ctx: Pick<ApplicationReconcilerContext, 'client' | 'metrics'>,
  object: KubeObject,
  status: GatehouseStatus,
): Promise<void> {
  const resource = object.kind === 'AccessPolicy' ? ACCESS_POLICIES : ACCESS_APPLICATIONS;
  await ctx.client.apply(
    resource,
    { metadata: { name: object.metadata.name, namespace: object.metadata.namespace ?? '' }, status },
    'status',
  );
  ctx.metrics.writes.inc({ what: 'status' });
}
