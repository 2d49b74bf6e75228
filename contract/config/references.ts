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
  const secretReference = (reference: unknown, field: string): void => {
    const ref = record(reference);
    const name = ref?.name;
    const key = ref?.key;
    if (typeof name !== 'string') return;
    const secret = known.secret(name);
    if (!secret) errors.push({ path: at(`${field}.name`), message: missingSecret(name) });
    else if (typeof key === 'string' && !secret[key])
      errors.push({ path: at(`${field}.key`), message: missingSecretKey(name, key) });
  };
  list(record(spec?.authentication)?.identityProviders).forEach((provider, i) => {
    secretReference(
      record(provider)?.clientSecretRef,
      `spec.authentication.identityProviders[${i}].clientSecretRef`,
    );
  });
  const tls = record(record(spec?.upstream)?.tls);
  secretReference(tls?.caSecretRef, 'spec.upstream.tls.caSecretRef');
  secretReference(tls?.clientCertificateSecretRef, 'spec.upstream.tls.clientCertificateSecretRef');
  return errors;
}
