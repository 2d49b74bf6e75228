import { AccessApplication } from '../../../contract/api/access-application.ts';
import { AccessPolicy } from '../../../contract/api/access-policy.ts';
import { AccessRevocation } from '../../../contract/api/access-revocation.ts';
import { API_GROUP } from '../../../contract/api/schema-helpers.ts';
import { joinPath, schemaErrors } from '../../../contract/api/validate.ts';
import {
  looseApplicationErrors,
  loosePolicyErrors,
  schemaErrorPaths,
} from '../../../contract/config/loose-checks.ts';
import { looseReferenceErrors } from '../../../contract/config/references.ts';
import type { Located } from '../../../contract/config/render.ts';
import type { FieldError } from '../../../contract/errors.ts';
import { type RevocationView, readRevocation } from '../../../contract/revocations.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { parseRfc3339 } from '../../../lib/rfc3339.ts';
import type { ConfigSnapshot } from './config-files.ts';
import { createParseCache, type ParseCache, parseSnapshot, type SourceDocument } from './load-documents.ts';
import { standInForSecretsElsewhere } from './secrets-elsewhere.ts';
import { isApplicationWanted, type SelectApplication } from './select-application.ts';

const KNOWN_KINDS = new Set(['AccessApplication', 'AccessPolicy', 'AccessRevocation']);

/**
 * What a source that reloads its files keeps from one load to the next: each file's documents,
 * and each AccessRevocation document's check (by its value, frozen and kept while its file is
 * unchanged). A reload then parses and checks only what changed.
 */
export interface LoadCache {
  readonly parsed: ParseCache;
  readonly revocations: WeakMap<object, CheckedRevocation>;
  /** The files of the extra directories skipped at the last load (path and why), reported then. */
  skipped: ReadonlySet<string>;
}

export const createLoadCache = (): LoadCache => ({
  parsed: createParseCache(),
  revocations: new WeakMap(),
  skipped: new Set(),
});

/** An AccessRevocation document checked: its view when valid, else its problems. */
interface CheckedRevocation {
  readonly view?: RevocationView;
  readonly problems: readonly FieldError[];
}

/** The Gatehouse objects of config files, each checked against its schema, and every problem so far. */
export interface ConfigDocuments {
  readonly documents: readonly SourceDocument[];
  /** Every problem found: syntax, schemas, references of the applications that failed theirs. */
  readonly errors: FieldError[];
  /** The applications that passed their schema. */
  readonly applications: readonly { readonly location: string; readonly value: AccessApplication }[];
  /** Schema-valid policies by `namespace/name`. */
  readonly policies: ReadonlyMap<string, Located<AccessPolicy>>;
  /** Policies that failed their schema, by `namespace/name`: reported there, not again as missing. */
  readonly invalidPolicies: ReadonlySet<string>;
  /** Secret data by `namespace/name`. */
  readonly secrets: ReadonlyMap<string, Record<string, string>>;
  readonly revocations: readonly RevocationView[];
}

/**
 * Sorts the documents of config files into applications, policies, Secrets and revocations, each
 * checked against its schema; other Kubernetes objects are passed over. The references of an
 * application that failed its schema are checked here, so that one pass reports every problem;
 * those of the valid ones when they are rendered.
 */
export function readConfigDocuments(
  snapshot: ConfigSnapshot,
  select: SelectApplication,
  cache?: LoadCache,
): ConfigDocuments {
  const { documents, errors } = parseSnapshot(snapshot, cache?.parsed);
  const applications: { location: string; value: AccessApplication }[] = [];
  const policies = new Map<string, Located<AccessPolicy>>();
  const secrets = new Map<string, Record<string, string>>();
  const revocations: RevocationView[] = [];
  const invalidApplications: { location: string; value: unknown }[] = [];
  const invalidPolicies = new Set<string>();
  // Files of the revocations directory too large to read: each is skipped as an invalid one is,
  // and reported when it is first skipped, not again at every reload while it stays.
  const skipped = new Set<string>();
  for (const problem of snapshot.skipped ?? []) {
    const key = `${problem.path}\u0000${problem.message}`;
    skipped.add(key);
    if (!select.onInvalidRevocation) errors.push(problem);
    else if (!cache?.skipped.has(key)) select.onInvalidRevocation(problem);
  }
  if (cache) cache.skipped = skipped;
  for (const doc of documents) {
    const v = doc.value as { apiVersion?: unknown; kind?: unknown };
    if (typeof v !== 'object' || Array.isArray(v)) {
      errors.push({
        path: doc.location,
        message: 'must be a Kubernetes object (a mapping with apiVersion and kind)',
      });
      continue;
    }
    if (v.apiVersion === 'v1' && v.kind === 'Secret') {
      addSecret(secrets, doc.location, v as Record<string, unknown>, errors);
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
    if (v.kind === 'AccessRevocation') {
      // Checked when its file is read; a malformed one is reported then, not at every reload.
      let checked = cache?.revocations.get(v);
      const fresh = checked === undefined;
      if (checked === undefined) {
        checked = checkRevocation(doc.location, v as KubeObject);
        cache?.revocations.set(v, checked);
      }
      if (checked.view) revocations.push(checked.view);
      if (!select.onInvalidRevocation) errors.push(...checked.problems);
      else if (fresh) for (const p of checked.problems) select.onInvalidRevocation(p);
      continue;
    }
    if (v.kind === 'AccessPolicy') {
      const found = schemaErrors(AccessPolicy, v, doc.location);
      if (found.length > 0) {
        errors.push(...found);
        errors.push(...loosePolicyErrors(v, (f) => joinPath(doc.location, f), schemaErrorPaths(found)));
        const meta = (v as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
        if (typeof meta?.name === 'string')
          invalidPolicies.add(`${typeof meta.namespace === 'string' ? meta.namespace : ''}/${meta.name}`);
      } else addPolicy(policies, { location: doc.location, value: v as AccessPolicy }, errors);
      continue;
    }
    // An application with a thousand policy references weighs like a thousand small documents.
    const references = (v as { spec?: { policies?: unknown } }).spec?.policies;
    const found = schemaErrors(
      AccessApplication,
      v,
      doc.location,
      1 + (Array.isArray(references) ? references.length : 0),
    );
    if (found.length > 0) {
      errors.push(...found);
      errors.push(...looseApplicationErrors(v, (f) => joinPath(doc.location, f), schemaErrorPaths(found)));
      invalidApplications.push({ location: doc.location, value: v });
      continue;
    }
    const { name, namespace = '' } = (v as AccessApplication).metadata;
    const previous = applications.find(
      (a) => a.value.metadata.name === name && (a.value.metadata.namespace ?? '') === namespace,
    );
    if (previous)
      errors.push({
        path: `${doc.location} metadata.name`,
        message: `AccessApplication ${JSON.stringify(name)} is already defined at ${previous.location}`,
      });
    else applications.push({ location: doc.location, value: v as AccessApplication });
  }
  // An application that failed its schema is not rendered; its references are still checked, so
  // that one pass reports every problem.
  for (const app of invalidApplications) {
    const metadata = (app.value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    if (select.application !== undefined && !isApplicationWanted(select.application, metadata)) continue;
    const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : '';
    const own = secretsOf(secrets, namespace);
    const known = select.onSecretsElsewhere
      ? standInForSecretsElsewhere(app.value as AccessApplication, own).secrets
      : own;
    errors.push(
      ...looseReferenceErrors(app.value, (field) => joinPath(app.location, field), {
        namespace: namespace || undefined,
        policy: (name) => policies.has(`${namespace}/${name}`) || invalidPolicies.has(`${namespace}/${name}`),
        secret: (name) => known.get(name),
      }),
    );
  }
  return { documents, errors, applications, policies, invalidPolicies, secrets, revocations };
}

/** The Secrets of the files in one namespace, by name. */
export function secretsOf(
  secrets: ReadonlyMap<string, Record<string, string>>,
  namespace: string,
): Map<string, Record<string, string>> {
  const own = new Map<string, Record<string, string>>();
  for (const [key, data] of secrets) {
    if (key.startsWith(`${namespace}/`)) own.set(key.slice(namespace.length + 1), data);
  }
  return own;
}

/**
 * Reads an AccessRevocation document. Its cut-off is `revokedBefore`, else the creation time the
 * cluster gave it (an object exported with `kubectl get -o yaml`); a file written by hand has no
 * creation time, so one of the two must be there.
 */
function checkRevocation(location: string, doc: KubeObject): CheckedRevocation {
  const found = schemaErrors(AccessRevocation, doc, location);
  if (found.length > 0) return { problems: found };
  const spec = doc.spec as { revokedBefore?: string };
  const created = (doc.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;
  if (
    spec.revokedBefore === undefined &&
    created !== undefined &&
    (typeof created !== 'string' || parseRfc3339(created) === undefined)
  )
    return {
      problems: [
        {
          path: `${location} metadata.creationTimestamp`,
          message: `must be a time such as 2026-12-06T10:00:00Z (got ${JSON.stringify(created)})`,
        },
      ],
    };
  const cutOff = spec.revokedBefore !== undefined || created !== undefined;
  const view = cutOff ? readRevocation(doc) : undefined;
  if (!view)
    return {
      problems: [
        {
          path: `${location} spec`,
          message: !cutOff
            ? 'revokedBefore is required in a file (gatehouse revoke --revocations-dir writes it), or metadata.creationTimestamp as the cluster gives it'
            : 'set exactly one of user, subject, session and providerSession (provider goes with subject or providerSession)',
        },
      ],
    };
  return { view, problems: [] };
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

/** Reads a Kubernetes Secret document (data base64, stringData plain) into string values by name. */
function addSecret(
  secrets: Map<string, Record<string, string>>,
  location: string,
  doc: { metadata?: unknown; data?: unknown; stringData?: unknown },
  errors: FieldError[],
): void {
  const meta = (doc.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  if (typeof meta.name !== 'string' || meta.name === '') {
    errors.push({ path: `${location} metadata.name`, message: 'is required' });
    return;
  }
  const values: Record<string, string> = {};
  for (const [field, encoded] of [
    ['data', true],
    ['stringData', false],
  ] as const) {
    const entries = doc[field];
    if (entries === undefined || entries === null) continue;
    if (typeof entries !== 'object' || Array.isArray(entries)) {
      errors.push({ path: `${location} ${field}`, message: 'must be a mapping of strings' });
      continue;
    }
    for (const [key, value] of Object.entries(entries)) {
      if (typeof value !== 'string') {
        errors.push({ path: `${location} ${field}.${key}`, message: 'must be a string' });
        continue;
      }
      if (encoded && !/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s/g, ''))) {
        errors.push({ path: `${location} ${field}.${key}`, message: 'is not base64' });
        continue;
      }
      values[key] = encoded ? Buffer.from(value, 'base64').toString('utf8') : value;
    }
  }
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  const key = `${namespace}/${meta.name}`;
  if (secrets.has(key)) {
    errors.push({
      path: `${location} metadata.name`,
      message: `Secret ${JSON.stringify(meta.name)} is defined twice`,
    });
    return;
  }
  secrets.set(key, values);
}
