import type { AccessApplication } from '../../../contract/api/access-application.ts';
import { TLS_CERTIFICATE_KEY } from '../../../contract/config/render-upstream-tls.ts';

/**
 * What the rendered config holds for a client secret kept in a Secret the files do not hold
 * (`gatehouse validate --secrets-in-cluster`, `gatehouse explain`): never a working secret, and
 * redacted as any other when printed.
 */
export const SECRET_ELSEWHERE = 'in a Secret of the cluster, not in these files';

type SecretsByName = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** An application's references to Secrets the files do not hold, with stand-ins for them. */
export interface SecretsStoodIn {
  /** The application to render: an upstream CA or client certificate kept elsewhere is left out (the config shows none). */
  readonly application: AccessApplication;
  /** The files' Secrets, and a stand-in for each Secret kept elsewhere. */
  readonly secrets: SecretsByName;
  /** The names of the Secrets stood in for, in the order the application names them. */
  readonly names: readonly string[];
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * Stands in for every Secret the application names that the files do not hold: platform teams
 * keep client secrets and CAs out of the YAML they check (sealed, or made by an external
 * operator), and no decision depends on them. A Secret the files do hold is read as it is, so a
 * key missing from it is still an error. Takes the application as it came (it may have failed its
 * schema): references that are not well formed are left to the schema's errors.
 */
export function standInForSecretsElsewhere(
  application: AccessApplication,
  secrets: SecretsByName,
): SecretsStoodIn {
  const spec = record(application.spec);
  const names: string[] = [];
  const standIns = new Map(secrets);
  const elsewhere = (reference: unknown): { name: string; key: string } | undefined => {
    const { name, key } = record(reference) ?? {};
    if (typeof name !== 'string' || typeof key !== 'string' || secrets.has(name)) return undefined;
    if (!names.includes(name)) names.push(name);
    return { name, key };
  };
  const providers = record(spec?.authentication)?.identityProviders;
  for (const provider of Array.isArray(providers) ? providers : []) {
    const reference = elsewhere(record(provider)?.clientSecretRef);
    if (reference)
      standIns.set(reference.name, { ...standIns.get(reference.name), [reference.key]: SECRET_ELSEWHERE });
  }
  const upstream = record(spec?.upstream);
  const tls = record(upstream?.tls);
  // An upstream CA or client certificate kept elsewhere is left out of the render (the config
  // shows none), and stood in for where the references are only checked.
  const ca = tls && elsewhere(tls.caSecretRef);
  if (ca) standIns.set(ca.name, { ...standIns.get(ca.name), [ca.key]: SECRET_ELSEWHERE });
  const client = tls && elsewhere({ ...record(tls.clientCertificateSecretRef), key: TLS_CERTIFICATE_KEY });
  if (client)
    standIns.set(client.name, { ...standIns.get(client.name), [TLS_CERTIFICATE_KEY]: SECRET_ELSEWHERE });
  if (tls && (ca || client)) {
    const kept = { ...tls };
    if (ca) delete kept.caSecretRef;
    if (client) delete kept.clientCertificateSecretRef;
    return {
      application: {
        ...application,
        spec: { ...application.spec, upstream: { ...application.spec.upstream, tls: kept } },
      },
      secrets: standIns,
      names,
    };
  }
  return { application, secrets: standIns, names };
}

/** Tells on standard error which Secrets were taken to be in the cluster (the output stays the config). */
export function tellSecretsElsewhere(command: string): (names: readonly string[]) => void {
  return (names) =>
    process.stderr.write(
      `${command}: taken to be in the cluster, not in these files: Secret ${names.join(', Secret ')}\n`,
    );
}
