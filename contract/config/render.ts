import { createHash, randomUUID } from 'node:crypto';
import type { AccessApplication } from '../api/access-application.ts';
import type { AccessPolicy, AccessPolicySpec } from '../api/access-policy.ts';
import { joinPath } from '../api/validate.ts';
import type { FieldError } from '../errors.ts';
import { missingPolicy } from './references.ts';
import { renderAuth, renderKeys, type SecretsByName } from './render-auth.ts';
import { renderDuration } from './render-duration.ts';
import { renderUpstreamTls } from './render-upstream-tls.ts';
import { normaliseSelector, policyErrors, type RenderedPolicy } from './rendered-policy.ts';
import {
  deepFreeze,
  MAX_REVOCATIONS,
  type Revocation,
  SIDECAR_CONFIG_FORMAT,
  type SidecarConfig,
  semanticErrors,
} from './sidecar-config.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RESPONSE_HEADERS_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_CONNECTIONS = 128;
/** Largest upstream response head read unless spec.upstream.maxResponseHeaderBytes says otherwise. */
export const DEFAULT_MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
export const DEFAULT_REQUEST_ID_HEADER = 'x-request-id';

/** Query parameters whose values never reach a log line, whatever the application adds. */
export const DEFAULT_REDACTED_QUERY_PARAMETERS: readonly string[] = [
  'access_token',
  'id_token',
  'refresh_token',
  'code',
  'token',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'api_key',
  'apikey',
  'signature',
  'sig',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-credential',
];

/** A schema-valid object and where it came from (for error paths). */
export interface Located<T> {
  readonly value: T;
  /** Location prefix for errors, e.g. `app.yaml#1`; empty for objects from the API server. */
  readonly location?: string;
}

/** Everything render needs: one validated application, where it came from, and the policies it may name. */
export interface RenderInput {
  readonly application: AccessApplication;
  /** Location prefix for errors, e.g. `app.yaml#1`; empty for objects from the API server. */
  readonly location?: string;
  /** Schema-valid AccessPolicies of the application's namespace, by name. */
  readonly policies?: ReadonlyMap<string, Located<AccessPolicy>>;
  /** Names of policies that exist but failed their own schema: reported there, not again as missing. */
  readonly invalidPolicies?: ReadonlySet<string>;
  /** Secret data of the application's namespace, by Secret name (client secrets). */
  readonly secrets?: SecretsByName;
  /** The application's keys (cookie encryption, signing); checked against ApplicationKeysSchema. */
  readonly keys?: unknown;
  /** AccessRevocations in force for this application (operator only). */
  readonly revocations?: readonly Revocation[];
}

export type RenderResult =
  | { readonly ok: true; readonly config: SidecarConfig }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

/**
 * An upstream URL as the sidecar uses it: its origin, and every reason it is not one (not a URL,
 * not http(s), credentials, a path or query). Shared by render and the --upstream flag.
 */
export function parseUpstreamOrigin(url: string): { origin: string; problems: string[] } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { origin: 'http://invalid', problems: [`is not a URL (got ${JSON.stringify(url)})`] };
  }
  const problems: string[] = [];
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.push('must use http or https');
  if (parsed.username || parsed.password) problems.push('must not contain credentials');
  if (parsed.pathname !== '/' || parsed.search || parsed.hash)
    problems.push('must be an origin only (scheme, host, port), without path or query');
  return { origin: parsed.origin, problems };
}

function upstreamOrigin(url: string, at: (f: string) => string, errors: FieldError[]): string {
  const { origin, problems } = parseUpstreamOrigin(url);
  for (const message of problems) errors.push({ path: at('spec.upstream.url'), message });
  return origin;
}

/** Hash of rendered content; the config's generation, identical for identical input. */
export function contentHash(value: unknown): string {
  const hash = createHash('sha256');
  for (const piece of contentJsonPieces(value)) hash.update(piece);
  return hash.digest('hex').slice(0, 16);
}

/**
 * JSON.stringify(value), the same text, in pieces to hash one after another, with a value's
 * `revocations` written from the text of each one kept while the (frozen) revocation is: a config
 * holds up to 10,000 of them and is hashed at every render, each sign-out's included, while one
 * or two of them are new. Neither they nor the config are written out as one text (1.3 MB at
 * 8,000): 7 ms a render at 8,000 against 10 (bench/render-with-revocations.ts).
 */
function* contentJsonPieces(value: unknown): Generator<string> {
  const revocations = (value as { revocations?: unknown } | null)?.revocations;
  if (!Array.isArray(revocations) || revocations.length < 64) {
    yield JSON.stringify(value);
    return;
  }
  const text = JSON.stringify({ ...(value as object), revocations: REVOCATIONS_MARK });
  const at = text.indexOf(MARK_JSON);
  yield `${text.slice(0, at)}[`;
  for (let i = 0; i < revocations.length; i += 256) {
    const parts = revocations
      .slice(i, i + 256)
      .map(revocationJson)
      .join(',');
    yield i + 256 < revocations.length ? `${parts},` : parts;
  }
  yield `]${text.slice(at + MARK_JSON.length)}`;
}

/** Stands in for the revocations in the rest of the text: no config holds it (a NUL and a random id). */
const REVOCATIONS_MARK = `\u0000revocations-${randomUUID()}`;
/** The mark as the text has it (the NUL written `\u0000`). */
const MARK_JSON = JSON.stringify(REVOCATIONS_MARK);
const revocationTexts = new WeakMap<object, string>();

function revocationJson(revocation: unknown): string {
  if (revocation === null || typeof revocation !== 'object' || !Object.isFrozen(revocation))
    return JSON.stringify(revocation) ?? 'null';
  let text = revocationTexts.get(revocation);
  if (text === undefined) {
    text = JSON.stringify(revocation);
    revocationTexts.set(revocation, text);
  }
  return text;
}

function renderPolicies(
  input: RenderInput,
  at: (f: string) => string,
  errors: FieldError[],
): RenderedPolicy[] {
  const namespace = input.application.metadata.namespace;
  const seen = new Set<string>();
  const out: RenderedPolicy[] = [];
  (input.application.spec.policies ?? []).forEach((ref, i) => {
    if (seen.has(ref.name)) {
      errors.push({
        path: at(`spec.policies[${i}].name`),
        message: `lists ${JSON.stringify(ref.name)} twice`,
      });
      return;
    }
    seen.add(ref.name);
    const found = input.policies?.get(ref.name);
    if (!found) {
      if (input.invalidPolicies?.has(ref.name)) return;
      errors.push({
        path: at(`spec.policies[${i}].name`),
        message: missingPolicy(ref.name, namespace),
      });
      return;
    }
    const { policy, problems } = renderPolicy(
      namespace ? `${namespace}/${ref.name}` : ref.name,
      found.value.spec,
      (f) => joinPath(found.location ?? '', `spec.${f}`),
    );
    if (problems.length > 0) errors.push(...problems);
    else out.push(policy);
  });
  return out;
}

/**
 * Policies of an application without spec.proxyProtocol that test privateEndpoints: no connection
 * can name one, so such a selector never matches, and a deny it includes (or an allow it
 * excludes from) would quietly let everyone through.
 */
function endpointsWithoutProxyProtocol(
  input: RenderInput,
  rendered: readonly RenderedPolicy[],
  at: (f: string) => string,
): FieldError[] {
  const namespace = input.application.metadata.namespace;
  const errors: FieldError[] = [];
  // By name, once: one lookup per reference (a search per reference made 1,000 policies cost
  // half a million comparisons at every render).
  const byName = new Map(rendered.map((p) => [p.name, p]));
  (input.application.spec.policies ?? []).forEach((ref, i) => {
    const policy = byName.get(namespace ? `${namespace}/${ref.name}` : ref.name);
    if (!policy) return;
    const tests = (['include', 'require', 'exclude'] as const).flatMap((part) =>
      policy[part].flatMap((selector, j) => ('privateEndpoints' in selector ? [`${part}[${j}]`] : [])),
    );
    if (tests.length > 0)
      errors.push({
        path: at(`spec.policies[${i}].name`),
        message: `${JSON.stringify(ref.name)} tests privateEndpoints (${tests.join(', ')}), which no connection names without spec.proxyProtocol: list the load balancers there`,
      });
  });
  return errors;
}

/** One AccessPolicy in the sidecar's form, with every problem the policy compiler would refuse. */
export function renderPolicy(
  name: string,
  spec: AccessPolicySpec,
  at: (field: string) => string,
): { policy: RenderedPolicy; problems: FieldError[] } {
  const policy: RenderedPolicy = {
    name,
    decision: spec.decision,
    mode: spec.mode ?? 'enforce',
    include: spec.include.map(normaliseSelector),
    require: (spec.require ?? []).map(normaliseSelector),
    exclude: (spec.exclude ?? []).map(normaliseSelector),
  };
  return { policy, problems: policyErrors(policy, at) };
}

/**
 * Renders one application into the sidecar's config. Pure: same input, same output (and hash);
 * used by the operator and by standalone file mode alike.
 */
export function renderSidecarConfig(input: RenderInput): RenderResult {
  const { application } = input;
  const spec = application.spec;
  const at = (field: string) => joinPath(input.location ?? '', field);
  const errors: FieldError[] = [];
  const timeouts = spec.upstream.timeouts ?? {};
  const extraRedacted = (spec.logging?.redactQueryParameters ?? []).map((p) => p.toLowerCase());
  const auth = renderAuth(application, input.secrets ?? new Map(), at, errors);
  const upstreamTls = renderUpstreamTls(spec.upstream, input.secrets ?? new Map(), at, errors);

  const body: Omit<SidecarConfig, 'generation'> = {
    format: SIDECAR_CONFIG_FORMAT,
    application: { name: application.metadata.name, namespace: application.metadata.namespace ?? '' },
    hosts: spec.hosts.map((h) => h.toLowerCase()),
    upstream: {
      origin: upstreamOrigin(spec.upstream.url, at, errors),
      connectTimeoutMs: renderDuration(
        timeouts.connect,
        DEFAULT_CONNECT_TIMEOUT_MS,
        'spec.upstream.timeouts.connect',
        at,
        errors,
      ),
      responseHeadersTimeoutMs: renderDuration(
        timeouts.responseHeaders,
        DEFAULT_RESPONSE_HEADERS_TIMEOUT_MS,
        'spec.upstream.timeouts.responseHeaders',
        at,
        errors,
      ),
      idleTimeoutMs: renderDuration(
        timeouts.idle,
        DEFAULT_IDLE_TIMEOUT_MS,
        'spec.upstream.timeouts.idle',
        at,
        errors,
      ),
      maxConnections: spec.upstream.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      ...(spec.upstream.maxResponseHeaderBytes === undefined
        ? {}
        : { maxResponseHeaderBytes: spec.upstream.maxResponseHeaderBytes }),
      ...(spec.upstream.caseInsensitivePaths ? { caseInsensitivePaths: true as const } : {}),
      ...(upstreamTls ? { tls: upstreamTls } : {}),
    },
    trustedProxies: [...(spec.trustedProxies ?? [])],
    ...(spec.proxyProtocol
      ? {
          proxyProtocol: {
            from: [...spec.proxyProtocol.from],
            ...(spec.proxyProtocol.optional ? { optional: true as const } : {}),
          },
        }
      : {}),
    policies: renderPolicies(input, at, errors),
    auth,
    keys: renderKeys(application, auth, input.keys, at, errors),
    requestId: {
      header: (spec.requestId?.header ?? DEFAULT_REQUEST_ID_HEADER).toLowerCase(),
      trustIncoming: spec.requestId?.trustIncoming ?? true,
    },
    logging: {
      profile: spec.logging?.profile ?? 'native',
      requestHeaders: (spec.logging?.requestHeaders ?? []).map((h) => h.toLowerCase()),
      redactQueryParameters: [...new Set([...DEFAULT_REDACTED_QUERY_PARAMETERS, ...extraRedacted])],
    },
    revocations: sortedRevocations(input.revocations ?? []),
  };
  errors.push(...semanticErrors(body, at));
  if (!body.proxyProtocol) errors.push(...endpointsWithoutProxyProtocol(input, body.policies, at));
  // A sidecar refuses a config of more (and keeps the one it runs): rendering it anyway would
  // report revocations as served that no sidecar enforces.
  if (body.revocations.length > MAX_REVOCATIONS)
    errors.push({
      path: 'revocations',
      message: `${body.revocations.length} AccessRevocations cover this application; a sidecar takes at most ${MAX_REVOCATIONS}`,
    });
  if (errors.length > 0) return { ok: false, errors };
  const config: SidecarConfig = { ...body, generation: contentHash(body) };
  return { ok: true, config: deepFreeze(config) };
}

function sortedRevocations(revocations: readonly Revocation[]): Revocation[] {
  const copy = [...revocations];
  // Mostly in order already (read from files sorted by name, or the config in force): one look.
  for (let i = 1; i < copy.length; i++)
    if ((copy[i - 1] as Revocation).name > (copy[i] as Revocation).name)
      return copy.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return copy;
}

/**
 * A rendered config with its revocations replaced, and its generation recomputed as render would.
 * The operator sends it when an application cannot be rendered anew (a Secret missing, the spec
 * invalid): its sidecars keep their last good config, but a revocation never waits for a fix.
 */
export function withRevocations(config: SidecarConfig, revocations: readonly Revocation[]): SidecarConfig {
  const { generation: _, ...body } = config;
  const next = { ...body, revocations: sortedRevocations(revocations) };
  return deepFreeze({ ...next, generation: contentHash(next) });
}
