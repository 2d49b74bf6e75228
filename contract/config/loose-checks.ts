/**
 * The checks render makes beyond the schema, run on the fields of an AccessApplication or an
 * AccessPolicy that failed its schema elsewhere: one pass of `gatehouse validate` (or of a
 * standalone sidecar's reload) reports every problem of the document, where a typo in one field
 * hid a bad address, URL or path in another until it was fixed. A field or list item is checked
 * only when it has the shape the schema wants and no schema error of its own, with render's own
 * checks, so that no problem is reported twice or in other words.
 */
import { type AccessPolicySpec, Selector } from '../api/access-policy.ts';
import { schemaErrors } from '../api/validate.ts';
import type { FieldError } from '../errors.ts';
import { parseUpstreamOrigin, renderPolicy } from './render.ts';
import { renderDuration } from './render-duration.ts';
import { type SidecarConfig, semanticErrors } from './sidecar-config.ts';

/** Whether a path (`loc spec.x[1]`) holds a schema error: at it, or at a field or item under it. */
export type SchemaErrorAt = (path: string) => boolean;

/** Which paths the schema found errors at (an error at a field covers what is under it). */
export function schemaErrorPaths(errors: readonly FieldError[]): SchemaErrorAt {
  const paths = errors.map((e) => e.path);
  return (path) => paths.some((p) => p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`));
}

const TIMEOUTS = ['connect', 'responseHeaders', 'idle'] as const;

/**
 * Render's checks of an application's own fields, on one that failed its schema: the upstream URL
 * and timeouts, the trusted proxies and load balancers (addresses and ranges), the logged headers.
 */
export function looseApplicationErrors(
  application: unknown,
  at: (field: string) => string,
  hasSchemaError: SchemaErrorAt,
): FieldError[] {
  const spec = objectAt(application, 'spec');
  const upstream = objectAt(spec, 'upstream');
  const errors: FieldError[] = [];
  const url = upstream?.url;
  if (typeof url === 'string' && !hasSchemaError(at('spec.upstream.url')))
    for (const message of parseUpstreamOrigin(url).problems)
      errors.push({ path: at('spec.upstream.url'), message });
  const timeouts = objectAt(upstream, 'timeouts');
  for (const name of TIMEOUTS) {
    const field = `spec.upstream.timeouts.${name}`;
    const text = timeouts?.[name];
    if (typeof text === 'string' && !hasSchemaError(at(field))) renderDuration(text, 0, field, at, errors);
  }
  // Render's semantic checks, on lists that keep each usable item at its index (the others are
  // holes, which the checks' forEach passes over), so every error names its item as render would.
  const usable = (field: string, list: unknown): string[] => {
    const kept: string[] = [];
    if (!Array.isArray(list)) return kept;
    list.forEach((item, i) => {
      if (typeof item === 'string' && !hasSchemaError(at(`${field}[${i}]`))) kept[i] = item;
    });
    return kept;
  };
  const proxyProtocol = objectAt(spec, 'proxyProtocol');
  const partial = {
    trustedProxies: usable('spec.trustedProxies', spec?.trustedProxies),
    ...(proxyProtocol
      ? { proxyProtocol: { from: usable('spec.proxyProtocol.from', proxyProtocol.from) } }
      : {}),
    logging: {
      requestHeaders: usable('spec.logging.requestHeaders', objectAt(spec, 'logging')?.requestHeaders).map(
        (h) => h.toLowerCase(),
      ),
    },
  } as unknown as Omit<SidecarConfig, 'generation'>;
  errors.push(...semanticErrors(partial, at));
  return errors;
}

const RULES = ['include', 'require', 'exclude'] as const;

/**
 * Render's checks of a policy's selectors (addresses, paths, globs, email addresses, selectors its
 * decision can never match), on a policy that failed its schema: each selector that passed it.
 */
export function loosePolicyErrors(
  policy: unknown,
  at: (field: string) => string,
  hasSchemaError: SchemaErrorAt,
): FieldError[] {
  const spec = objectAt(policy, 'spec');
  if (spec === undefined) return [];
  const decision = hasSchemaError(at('spec.decision')) ? undefined : spec.decision;
  // Selectors kept at their indexes, the others holes: renderPolicy's map and forEach pass over
  // holes, so each problem is located as render locates it.
  const selectors: Record<(typeof RULES)[number], unknown[]> = { include: [], require: [], exclude: [] };
  for (const rule of RULES) {
    const list = spec[rule];
    if (!Array.isArray(list)) continue;
    list.forEach((selector, i) => {
      // Held to the selector's own schema too: render's checks below never meet another shape,
      // whichever errors the document's schema reports (some are left out of its report).
      if (!hasSchemaError(at(`spec.${rule}[${i}]`)) && schemaErrors(Selector, selector, '').length === 0)
        selectors[rule][i] = selector;
    });
  }
  const partial = { decision, ...selectors } as unknown as AccessPolicySpec;
  return renderPolicy('', partial, (f) => at(`spec.${f}`)).problems;
}

function objectAt(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const field = (value as Record<string, unknown>)[key];
  return field !== null && typeof field === 'object' && !Array.isArray(field)
    ? (field as Record<string, unknown>)
    : undefined;
}
