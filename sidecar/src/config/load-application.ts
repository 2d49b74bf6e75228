import type { AccessApplication } from '../../../contract/api/access-application.ts';
import type { AccessPolicy } from '../../../contract/api/access-policy.ts';
import { joinPath } from '../../../contract/api/validate.ts';
import { type Located, renderSidecarConfig } from '../../../contract/config/render.ts';
import { assertionAlgorithm } from '../../../contract/config/render-auth.ts';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError, type FieldError } from '../../../contract/errors.ts';
import { externalUrlKey } from '../../../contract/external-url.ts';
import { keysFromSecretData, keysSecretName } from '../../../contract/keys.ts';
import { accountEndsFor, revocationsFor, sessionLifetimeMs } from '../../../contract/revocations.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { type ConfigDocuments, type LoadCache, readConfigDocuments, secretsOf } from './config-documents.ts';
import type { ConfigSnapshot } from './config-files.ts';
import type { SourceDocument } from './load-documents.ts';
import { standInForSecretsElsewhere } from './secrets-elsewhere.ts';
import { isApplicationWanted, type SelectApplication } from './select-application.ts';

/**
 * The `namespace/name` an AccessRevocation's `applications` names a standalone application by:
 * its namespace, `default` when it has none (as kubectl would put it).
 */
export function standaloneApplicationKey(application: AccessApplication): string {
  return `${application.metadata.namespace || 'default'}/${application.metadata.name}`;
}

/**
 * Turns config files into one SidecarConfig: parse, validate every Gatehouse object against the
 * schema, pick the application, render. Throws ConfigError listing every problem with its path.
 */
export function configFromSnapshot(
  snapshot: ConfigSnapshot,
  select: SelectApplication = {},
  /** What a reloading source keeps between loads (config-documents.ts). */
  cache?: LoadCache,
): SidecarConfig {
  const read = readConfigDocuments(snapshot, select, cache);
  const chosen = chooseApplication(read.applications, select, read.errors);
  const config = chosen ? renderApplication(read, chosen, select) : undefined;
  if (config && read.errors.length === 0) return config;
  throw new ConfigError('config_invalid', withPositions(read.errors, read.documents));
}

/**
 * Every application of the files rendered (`gatehouse validate` of a repository that holds many),
 * by `namespace/name`; throws ConfigError with every problem of every one of them.
 */
export function everyConfigFromSnapshot(
  snapshot: ConfigSnapshot,
  select: Omit<SelectApplication, 'application'> = {},
): Map<string, SidecarConfig> {
  const read = readConfigDocuments(snapshot, select);
  if (read.applications.length === 0 && read.errors.length === 0)
    read.errors.push({ path: '(config)', message: 'no AccessApplication found' });
  const configs = new Map<string, SidecarConfig>();
  for (const application of read.applications) {
    const config = renderApplication(read, application, select);
    if (config) configs.set(standaloneApplicationKey(application.value), config);
  }
  read.errors.push(...sharedExternalUrls(read.applications));
  if (read.errors.length === 0) return configs;
  throw new ConfigError('config_invalid', withPositions(read.errors, read.documents));
}

/**
 * Applications of the files at the external URL of one before them (contract/external-url.ts):
 * the sign-in callbacks of a URL reach one sidecar only.
 */
function sharedExternalUrls(applications: ConfigDocuments['applications']): FieldError[] {
  const first = new Map<string, { readonly location: string; readonly key: string }>();
  const errors: FieldError[] = [];
  for (const { location, value } of applications) {
    const url = externalUrlKey(value as unknown as KubeObject);
    if (url === undefined) continue;
    const holder = first.get(url);
    if (holder === undefined) first.set(url, { location, key: standaloneApplicationKey(value) });
    else
      errors.push({
        path: joinPath(location, 'spec.authentication.externalUrl'),
        message: `is also the externalUrl of AccessApplication ${holder.key} (${holder.location}): the sign-in callbacks of a URL reach one of them only; give this application its own host or path (https://<host>/<path>)`,
      });
  }
  return errors;
}

/** Renders one application of the files with its namespace's policies and Secrets; its problems go to read.errors. */
function renderApplication(
  read: ConfigDocuments,
  chosen: { readonly location: string; readonly value: AccessApplication },
  select: SelectApplication,
): SidecarConfig | undefined {
  const { errors, policies, invalidPolicies, secrets, revocations } = read;
  const namespace = chosen.value.metadata.namespace ?? '';
  const own = new Map<string, Located<AccessPolicy>>();
  for (const [key, policy] of policies) {
    if (key.startsWith(`${namespace}/`)) own.set(policy.value.metadata.name, policy);
  }
  const inFiles = secretsOf(secrets, namespace);
  const applicationKey = standaloneApplicationKey(chosen.value);
  const lifetimeMs = sessionLifetimeMs(chosen.value);
  const now = select.now?.() ?? new Date();
  const keys = applicationKeys(chosen.value, inFiles, select, errors);
  const stoodIn = select.onSecretsElsewhere ? standInForSecretsElsewhere(chosen.value, inFiles) : undefined;
  if (stoodIn && stoodIn.names.length > 0) select.onSecretsElsewhere?.(stoodIn.names);
  const ownSecrets = stoodIn?.secrets ?? inFiles;
  const result = renderSidecarConfig({
    application: stoodIn?.application ?? chosen.value,
    location: chosen.location,
    policies: own,
    secrets: ownSecrets,
    invalidPolicies: new Set(
      [...invalidPolicies]
        .filter((key) => key.startsWith(`${namespace}/`))
        .map((key) => key.slice(namespace.length + 1)),
    ),
    keys,
    revocations: revocationsFor(applicationKey, lifetimeMs, revocations, now),
  });
  select.onSessionEndAccounts?.(accountEndsFor(applicationKey, lifetimeMs, revocations, now));
  if (result.ok) return result.config;
  errors.push(...result.errors);
  return undefined;
}

/** Each error about a field of a document, with the line and column of that field (or its nearest parent). */
function withPositions(errors: readonly FieldError[], documents: readonly SourceDocument[]): FieldError[] {
  const byLocation = new Map(documents.map((d) => [d.location, d]));
  return errors.map((error) => {
    const match = /^(\S+)(?: (\S+))?/.exec(error.path);
    const doc = match ? byLocation.get(match[1] as string) : undefined;
    const position = doc?.position(match?.[2] ?? '');
    return position ? { ...error, position } : error;
  });
}

function chooseApplication<T extends { location: string; value: AccessApplication }>(
  applications: readonly T[],
  select: SelectApplication,
  errors: FieldError[],
): T | undefined {
  if (select.application !== undefined) {
    // `namespace/name`, or a name: the same name in two namespaces (staging and production in
    // one repository) must not pick one of them silently.
    const wanted = select.application;
    const matches = applications.filter((a) => isApplicationWanted(wanted, a.value.metadata));
    if (matches.length === 1) return matches[0];
    errors.push({
      path: '(config)',
      message:
        matches.length === 0
          ? `no AccessApplication named ${JSON.stringify(wanted)}`
          : `several AccessApplications named ${JSON.stringify(wanted)} (${matches.map((a) => `${a.value.metadata.namespace ?? ''}/${a.value.metadata.name}`).join(', ')}); give namespace/name`,
    });
    return undefined;
  }
  if (applications.length === 1) return applications[0];
  if (applications.length === 0 && errors.length === 0) {
    errors.push({ path: '(config)', message: 'no AccessApplication found' });
  } else if (applications.length > 1) {
    errors.push({
      path: '(config)',
      message: `several AccessApplications (${applications.map((a) => a.value.metadata.name).join(', ')}); choose one with --application`,
    });
  }
  return undefined;
}

/** The application's keys from its keys Secret, else the fallback; undefined when there are none. */
function applicationKeys(
  application: AccessApplication,
  secrets: ReadonlyMap<string, Readonly<Record<string, string>>>,
  select: SelectApplication,
  errors: FieldError[],
): unknown {
  const name = keysSecretName(application.metadata.name);
  const data = secrets.get(name);
  if (!data) return select.fallbackKeys?.(assertionAlgorithm(application.spec.authentication));
  try {
    return keysFromSecretData(data);
  } catch (error) {
    errors.push({ path: `Secret ${name}`, message: (error as Error).message });
    return undefined;
  }
}
