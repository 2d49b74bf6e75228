import type { FieldError } from '../errors.ts';

/**
 * What an application refers to by name (its policies, the Secrets of its identity providers and
 * of its upstream's CA), and the errors when a name is not there. Rendering checks them on a valid
 * application; the loose check below reads an application that failed its schema, so that one
 * pass reports every problem.
 */

export function missingPolicy(name: string, namespace: string | undefined): string {
  return `no AccessPolicy named ${JSON.stringify(name)}${namespace ? ` in namespace ${namespace}` : ''}`;
}

/** How the message of a missing Secret begins. */
export const MISSING_SECRET = 'no Secret named ';

export function missingSecret(name: string): string {
  return `${MISSING_SECRET}${name}`;
}

export function missingSecretKey(name: string, key: string): string {
  return `Secret ${name} has no key ${key}`;
}

/** The keys of a kubernetes.io/tls Secret (a client certificate's). */
export const TLS_CERTIFICATE_KEY = 'tls.crt';
export const TLS_PRIVATE_KEY_KEY = 'tls.key';

/** A Secret an application names: where, which keys it reads, and what for. */
export interface SecretReference {
  /** Where the application names it (`spec.upstream.tls.caSecretRef`). */
  readonly field: string;
  readonly name: string;
  /** The key a `{name, key}` reference names; undefined where the keys are fixed (a kubernetes.io/tls Secret). */
  readonly key: string | undefined;
  /** Every key read from the Secret. */
  readonly keys: readonly string[];
  readonly use:
    | { readonly kind: 'client-secret'; readonly provider: string }
    | { readonly kind: 'upstream-ca' }
    | { readonly kind: 'client-certificate' };
}

/**
 * Every Secret an application names (identity providers' client secrets, the upstream's CA, its
 * client certificate), read from an object whose shape is not known to be valid: a reference
 * without a string name is left to the schema's errors. The one list the render's checks, the
 * operator's watches and `--secrets-in-cluster` walk, so a new reference is added here once.
 */
export function secretReferences(application: unknown): SecretReference[] {
  const spec = record(record(application)?.spec);
  const refs: SecretReference[] = [];
  const add = (reference: unknown, field: string, use: SecretReference['use'], fixedKeys?: string[]) => {
    const { name, key } = record(reference) ?? {};
    if (typeof name !== 'string') return;
    const named = fixedKeys === undefined && typeof key === 'string' ? key : undefined;
    refs.push({ field, name, key: named, keys: fixedKeys ?? (named === undefined ? [] : [named]), use });
  };
  list(record(spec?.authentication)?.identityProviders).forEach((provider, i) => {
    const providerName = record(provider)?.name;
    add(record(provider)?.clientSecretRef, `spec.authentication.identityProviders[${i}].clientSecretRef`, {
      kind: 'client-secret',
      provider: typeof providerName === 'string' ? providerName : '',
    });
  });
  const tls = record(record(spec?.upstream)?.tls);
  add(tls?.caSecretRef, 'spec.upstream.tls.caSecretRef', { kind: 'upstream-ca' });
  add(
    tls?.clientCertificateSecretRef,
    'spec.upstream.tls.clientCertificateSecretRef',
    { kind: 'client-certificate' },
    [TLS_CERTIFICATE_KEY, TLS_PRIVATE_KEY_KEY],
  );
  return refs;
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The reference errors of an application object whose shape is not known to be valid: every name
 * that is a string and is not found, located as rendering would locate it.
 */
export function looseReferenceErrors(
  application: unknown,
  at: (field: string) => string,
  known: {
    readonly namespace: string | undefined;
    policy(name: string): boolean;
    secret(name: string): Readonly<Record<string, string>> | undefined;
  },
): FieldError[] {
  const errors: FieldError[] = [];
  const spec = record(record(application)?.spec);
  list(spec?.policies).forEach((ref, i) => {
    const name = record(ref)?.name;
    if (typeof name === 'string' && !known.policy(name))
      errors.push({ path: at(`spec.policies[${i}].name`), message: missingPolicy(name, known.namespace) });
  });
  for (const ref of secretReferences(application)) {
    const secret = known.secret(ref.name);
    if (!secret) errors.push({ path: at(`${ref.field}.name`), message: missingSecret(ref.name) });
    else if (ref.key !== undefined && !secret[ref.key])
      errors.push({ path: at(`${ref.field}.key`), message: missingSecretKey(ref.name, ref.key) });
  }
  return errors;
}
