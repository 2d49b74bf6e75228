import { AccessApplication } from '../../../contract/api/access-application.ts';
import { AccessPolicy } from '../../../contract/api/access-policy.ts';
import { API_VERSION } from '../../../contract/api/schema-helpers.ts';
import { schemaErrors } from '../../../contract/api/validate.ts';
import { type SecretReference, secretReferences } from '../../../contract/config/references.ts';
import { type Located, renderPolicy } from '../../../contract/config/render.ts';
import type { SecretsByName } from '../../../contract/config/render-auth.ts';
import type { FieldError } from '../../../contract/errors.ts';
import { keysFromSecretData, keysSecretName } from '../../../contract/keys.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { secretStrings } from '../../../lib/kube/secret-data.ts';
import { publicJwks } from '../delivery/config-hub.ts';

/** Reads objects by namespace/name key (an informer's cache). */
export interface ObjectLookup {
  get(key: string): KubeObject | undefined;
}

/** The problems of one AccessPolicy on its own: schema, then what the policy compiler refuses. */
export function policyProblems(object: KubeObject): FieldError[] {
  const errors = schemaErrors(AccessPolicy, object, '');
  if (errors.length > 0) return errors;
  const policy = object as unknown as AccessPolicy;
  return renderPolicy(policy.metadata.name, policy.spec, (f) => `spec.${f}`).problems;
}

function validPolicy(object: KubeObject): boolean {
  return policyProblems(object).length === 0;
}

/** Stands in for a policy reference that does not resolve or is invalid: denies everyone at its position, so a deleted policy never widens access. */
export function missingPolicyStandIn(namespace: string, name: string): AccessPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessPolicy',
    metadata: { name, namespace },
    spec: { decision: 'deny', include: [{ everyone: true }] },
  };
}

/** Everything an application's render needs, read from the caches, and what was missing. */
export interface ApplicationInputs {
  readonly application: AccessApplication;
  readonly policies: Map<string, Located<AccessPolicy>>;
  readonly secrets: SecretsByName;
  readonly keys: unknown;
  /** The public JWKS of the signing keys (empty when there are none or they are unreadable). */
  readonly jwks: string;
  readonly missingPolicies: string[];
  readonly invalidPolicies: string[];
  /** Provider client secrets that are absent: "Secret \"x\" key \"y\" (identity provider corp)". */
  readonly missingSecrets: string[];
  /** The upstream CA's Secret key, when absent: "Secret \"x\" key \"y\" (the upstream's CA)". */
  readonly missingUpstreamSecrets: string[];
  /** Identity providers a policy names that the application does not have: "AccessPolicy \"p\" names \"x\"". */
  readonly unknownProviders: string[];
}

const NO_KEYS = { keys: undefined, jwks: publicJwks(undefined) } as const;
/** Keys read from a cached keys Secret, with their public JWKS: each version is read (and its signing keys imported) once. */
const keysBySecret = new WeakMap<KubeObject, { keys: unknown; jwks: string }>();

function readKeys(secret: KubeObject): { keys: unknown; jwks: string } {
  const known = keysBySecret.get(secret);
  if (known) return known;
  let keys: unknown;
  try {
    keys = keysFromSecretData(secretStrings(secret));
  } catch {
    keys = undefined;
  }
  const read = { keys, jwks: publicJwks(keys) };
  keysBySecret.set(secret, read);
  return read;
}

/** Validation results by cached object: an informer replaces an object when it changes, so each version is checked once. */
const validated = new WeakMap<KubeObject, { application?: AccessApplication; errors: FieldError[] }>();

/** Validates the application at the boundary; returns its schema errors when it is not a valid AccessApplication. */
export function validApplication(object: KubeObject): {
  application?: AccessApplication;
  errors: FieldError[];
} {
  const known = validated.get(object);
  if (known) return known;
  const errors = schemaErrors(AccessApplication, object, '');
  const result =
    errors.length > 0 ? { errors } : { application: object as unknown as AccessApplication, errors };
  validated.set(object, result);
  return result;
}

/** Gathers the inputs of one application from the caches. Pure apart from reading them. */
export function gatherInputs(
  application: AccessApplication,
  policies: ObjectLookup,
  secrets: ObjectLookup,
): ApplicationInputs {
  const namespace = application.metadata.namespace ?? '';
  const policyMap = new Map<string, Located<AccessPolicy>>();
  const missingPolicies: string[] = [];
  const invalidPolicies: string[] = [];
  for (const ref of application.spec.policies ?? []) {
    const found = policies.get(`${namespace}/${ref.name}`);
    if (!found || found.metadata.deletionTimestamp) {
      missingPolicies.push(ref.name);
      policyMap.set(ref.name, { value: missingPolicyStandIn(namespace, ref.name) });
      continue;
    }
    if (!validPolicy(found)) {
      invalidPolicies.push(ref.name);
      policyMap.set(ref.name, { value: missingPolicyStandIn(namespace, ref.name) });
      continue;
    }
    policyMap.set(ref.name, { value: found as unknown as AccessPolicy });
  }
  const secretMap = new Map<string, Readonly<Record<string, string>>>();
  const missingSecrets: string[] = [];
  const missingUpstreamSecrets: string[] = [];
  for (const ref of secretReferences(application)) {
    const secret = secrets.get(`${namespace}/${ref.name}`);
    const data = secret ? secretStrings(secret) : undefined;
    if (data) secretMap.set(ref.name, { ...secretMap.get(ref.name), ...data });
    const absent = ref.keys.filter((key) => data?.[key] === undefined);
    if (data && absent.length === 0) continue;
    // A named key is told whether or not the Secret exists; fixed keys only when it does.
    const keys =
      ref.key !== undefined
        ? ` key ${JSON.stringify(ref.key)}`
        : data
          ? ` key ${absent.map((k) => JSON.stringify(k)).join(' and ')}`
          : '';
    const missing = `Secret ${JSON.stringify(ref.name)}${keys} (${purposeOf(ref.use)})`;
    if (ref.use.kind === 'client-secret') missingSecrets.push(missing);
    else missingUpstreamSecrets.push(missing);
  }
  const unknownProviders = unknownIdentityProviders(application, policyMap);
  const keysSecret = secrets.get(`${namespace}/${keysSecretName(application.metadata.name)}`);
  const { keys, jwks } = keysSecret ? readKeys(keysSecret) : NO_KEYS;
  return {
    application,
    policies: policyMap,
    secrets: secretMap,
    keys,
    jwks,
    missingPolicies,
    invalidPolicies,
    missingSecrets,
    missingUpstreamSecrets,
    unknownProviders,
  };
}

/** What a Secret is for, in a status message. */
function purposeOf(use: SecretReference['use']): string {
  if (use.kind === 'client-secret') return `identity provider ${use.provider}`;
  return use.kind === 'upstream-ca' ? "the upstream's CA" : 'the client certificate for the upstream';
}

/**
 * identityProviders selectors naming a provider the application does not have: such a selector
 * never matches (so it fails closed), but it is almost always a typo, reported like a missing policy.
 */
function unknownIdentityProviders(
  application: AccessApplication,
  policies: ReadonlyMap<string, Located<AccessPolicy>>,
): string[] {
  const known = new Set((application.spec.authentication?.identityProviders ?? []).map((p) => p.name));
  const found: string[] = [];
  for (const [name, { value: policy }] of policies) {
    const selectors = [
      ...policy.spec.include,
      ...(policy.spec.require ?? []),
      ...(policy.spec.exclude ?? []),
    ];
    const named = new Set(selectors.flatMap((s) => s.identityProviders ?? []));
    for (const provider of named)
      if (!known.has(provider))
        found.push(`AccessPolicy ${JSON.stringify(name)} names ${JSON.stringify(provider)}`);
  }
  return found;
}
