import type { AccessApplication } from '../../../contract/api/access-application.ts';
import { secretReferences } from '../../../contract/config/references.ts';

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
  const names: string[] = [];
  const standIns = new Map(secrets);
  // An upstream CA or client certificate kept elsewhere is left out of the render (the config
  // shows none), and stood in for where the references are only checked.
  const leftOut: string[] = [];
  for (const ref of secretReferences(application)) {
    if (secrets.has(ref.name) || ref.keys.length === 0) continue;
    if (!names.includes(ref.name)) names.push(ref.name);
    const stoodIn = Object.fromEntries(ref.keys.map((key) => [key, SECRET_ELSEWHERE]));
    standIns.set(ref.name, { ...standIns.get(ref.name), ...stoodIn });
    if (ref.use.kind !== 'client-secret') leftOut.push(ref.field.slice('spec.upstream.tls.'.length));
  }
  const tls = application.spec?.upstream?.tls;
  if (tls === undefined || leftOut.length === 0) return { application, secrets: standIns, names };
  const kept = Object.fromEntries(Object.entries(tls).filter(([field]) => !leftOut.includes(field)));
  return {
    application: {
      ...application,
      spec: { ...application.spec, upstream: { ...application.spec.upstream, tls: kept } },
    },
    secrets: standIns,
    names,
  };
}

/** Tells on standard error which Secrets were taken to be in the cluster (the output stays the config). */
export function tellSecretsElsewhere(command: string): (names: readonly string[]) => void {
  return (names) =>
    process.stderr.write(
      `${command}: taken to be in the cluster, not in these files: Secret ${names.join(', Secret ')}\n`,
    );
}
