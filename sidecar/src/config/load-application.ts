import { AccessApplication } from '../api/access-application.ts';
import { AccessPolicy } from '../api/access-policy.ts';
import { API_GROUP } from '../api/schema-helpers.ts';
import { schemaErrors } from '../api/validate.ts';
import { ConfigError, type FieldError } from '../errors.ts';
import { type ConfigSnapshot, parseSnapshot } from './load-documents.ts';
import { type Located, renderSidecarConfig } from './render.ts';
import type { SidecarConfig } from './sidecar-config.ts';

const KNOWN_KINDS = new Set(['AccessApplication', 'AccessPolicy']);

/** Which application of the files to serve; required only when the files define several. */
export interface SelectApplication {
  readonly application?: string;
}

/**
 * Turns config files into one SidecarConfig: parse, validate every Gatehouse object against the
 * schema, pick the application, render. Throws ConfigError listing every problem with its path.
 */
export function configFromSnapshot(snapshot: ConfigSnapshot, select: SelectApplication = {}): SidecarConfig {
  const { documents, errors } = parseSnapshot(snapshot);
  const applications: { location: string; value: AccessApplication }[] = [];
  const policies = new Map<string, Located<AccessPolicy>>();
  for (const doc of documents) {
    const v = doc.value as { apiVersion?: unknown; kind?: unknown };
    if (typeof v !== 'object' || Array.isArray(v)) {
      errors.push({
        path: doc.location,
        message: 'must be a Kubernetes object (a mapping with apiVersion and kind)',
      });
      continue;
    }
    const group = typeof v.apiVersion === 'string' ? v.apiVersion.split('/')[0] : undefined;
    if (group !== API_GROUP) continue; // other Kubernetes objects may share the files
    if (typeof v.kind !== 'string' || !KNOWN_KINDS.has(v.kind)) {
      errors.push({
        path: `${doc.location} kind`,
        message: `must be one of: ${[...KNOWN_KINDS].join(', ')} (got ${JSON.stringify(v.kind)})`,
      });
      continue;
    }
    if (v.kind === 'AccessPolicy') {
      const found = schemaErrors(AccessPolicy, v, doc.location);
      if (found.length > 0) errors.push(...found);
      else addPolicy(policies, { location: doc.location, value: v as AccessPolicy }, errors);
      continue;
    }
    const found = schemaErrors(AccessApplication, v, doc.location);
    if (found.length > 0) errors.push(...found);
    else applications.push({ location: doc.location, value: v as AccessApplication });
  }
  const chosen = chooseApplication(applications, select, errors);
  if (chosen) {
    const namespace = chosen.value.metadata.namespace ?? '';
    const own = new Map<string, Located<AccessPolicy>>();
    for (const [key, policy] of policies) {
      if (key.startsWith(`${namespace}/`)) own.set(policy.value.metadata.name, policy);
    }
    const result = renderSidecarConfig({
      application: chosen.value,
      location: chosen.location,
      policies: own,
    });
    if (!result.ok) errors.push(...result.errors);
    else if (errors.length === 0) return result.config;
  }
  throw new ConfigError('config_invalid', errors);
}

function chooseApplication<T extends { location: string; value: AccessApplication }>(
  applications: T[],
  select: SelectApplication,
  errors: FieldError[],
): T | undefined {
  if (select.application !== undefined) {
    const match = applications.find((a) => a.value.metadata.name === select.application);
    if (!match)
      errors.push({
        path: '(config)',
        message: `no AccessApplication named ${JSON.stringify(select.application)}`,
      });
    return match;
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

function addPolicy(
  policies: Map<string, Located<AccessPolicy>>,
  policy: Located<AccessPolicy>,
  errors: FieldError[],
): void {
  const { name, namespace = '' } = policy.value.metadata;
  const key = `${namespace}/${name}`;
  const previous = policies.get(key);
  if (previous) {
    errors.push({
      path: `${policy.location} metadata.name`,
      message: `AccessPolicy ${JSON.stringify(name)} is already defined at ${previous.location}`,
    });
    return;
  }
  policies.set(key, policy);
}
