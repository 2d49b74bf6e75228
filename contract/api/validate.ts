import type { TSchema } from 'typebox';
// The JSON Schema checker alone: a smaller module graph for every start than the full value module.
import { Check, Compile, Errors, type Validator } from 'typebox/schema';
import { DURATION_PATTERN } from '../../lib/duration.ts';
import { PRIVATE_ENDPOINT_PATTERN } from '../../lib/net/proxy-protocol-endpoint.ts';
import type { FieldError } from '../errors.ts';
import { precompiledCheck } from './precompiled-checks.ts';

const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const HOST = '^(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$';

/**
 * A host as clients send it: lower case, and a name outside ASCII in its ASCII form (punycode,
 * as WHATWG URL parsing gives it), keeping a leading `*.` and a trailing port.
 */
function hostAsSent(value: string): string | undefined {
  const parts = /^(\*\.)?([^:]+)(:[0-9]{1,5})?$/.exec(value);
  if (parts === null) return undefined;
  try {
    return `${parts[1] ?? ''}${new URL(`http://${parts[2]}`).hostname}${parts[3] ?? ''}`;
  } catch {
    return undefined;
  }
}

/** For a pattern, the form a refused value was most likely meant as (checked against the pattern before it is offered). */
const PATTERN_FIXES: ReadonlyMap<string, (value: string) => string | undefined> = new Map([
  [DNS_SUBDOMAIN, (value: string) => value.toLowerCase()],
  [DNS_LABEL, (value: string) => value.toLowerCase()],
  [HOST, hostAsSent],
  // The id as the cloud's console shows it, without the cloud's name in front.
  [PRIVATE_ENDPOINT_PATTERN, (value: string) => (/^vpce-/i.test(value) ? `aws:${value}` : undefined)],
]);

/** What the patterns of the schemas mean, in the words of an error message. */
const PATTERN_HINTS: ReadonlyMap<string, string> = new Map([
  [DURATION_PATTERN, 'a duration such as 500ms, 30s, 5m or 1h30m'],
  [
    DNS_SUBDOMAIN,
    'a DNS subdomain name: lower-case letters, digits, - and ., starting and ending with a letter or digit',
  ],
  [DNS_LABEL, 'a DNS label: lower-case letters, digits and -, starting and ending with a letter or digit'],
  [
    HOST,
    'a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443',
  ],
  ['^https?://', 'an http:// or https:// URL'],
  [
    '^https?://[^/?#]+/?$',
    'an origin: http:// or https://, a host and an optional port, no path, e.g. https://wiki.example.com',
  ],
  ["^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", "an HTTP header name: letters, digits and !#$%&'*+.^_`|~-"],
  ['^[^@\\s]+@[^@\\s]+$', 'an email address'],
  ['^/', 'a path starting with /'],
  ['^[A-Z]+$', 'an HTTP method in upper case, e.g. GET'],
  [
    PRIVATE_ENDPOINT_PATTERN,
    'a private endpoint: aws:<VPC endpoint id> (aws:vpce-0123456789abcdef0), azure:<LinkID> or gcp:<connection id>, numbers in decimal without leading zeros',
  ],
]);

/** The edit distance of two short strings (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] as number;
}

/** The known name closest to an unknown one, when it is close enough to be a slip (case, a typo or two). */
export function closestName(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const d = name.toLowerCase() === unknown.toLowerCase() ? 0 : distance(unknown, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

interface SchemaNode {
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  additionalProperties?: SchemaNode | boolean;
}

/** The schema nodes that may describe the value at a JSON pointer (each branch of an anyOf on the way). */
function nodesAt(schema: SchemaNode, pointer: string): SchemaNode[] {
  let nodes: SchemaNode[] = [schema];
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const next: SchemaNode[] = [];
    for (const node of nodes.flatMap((n) => [n, ...(n.anyOf ?? [])])) {
      const child = /^[0-9]+$/.test(part) && node.items ? node.items : node.properties?.[part];
      if (child) next.push(child);
      else if (typeof node.additionalProperties === 'object') next.push(node.additionalProperties);
    }
    nodes = next;
  }
  return nodes.flatMap((n) => [n, ...(n.anyOf ?? [])]);
}

/** The field names the schema allows at a JSON pointer (the object an unknown field was found in). */
function fieldsAt(schema: SchemaNode, pointer: string): string[] {
  return [...new Set(nodesAt(schema, pointer).flatMap((n) => Object.keys(n.properties ?? {})))];
}

/**
 * What a value of the wrong type was meant to be, where the schema says it in words: a duration
 * written as a bare number (`connect: 2`) is told to be a duration with its unit, not a "string".
 */
function wrongTypeText(schema: SchemaNode, pointer: string, value: unknown, type: string): string {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
    const hint = nodesAt(schema, pointer)
      .map((n) => (n.pattern === undefined ? undefined : PATTERN_HINTS.get(n.pattern)))
      .find((h) => h !== undefined);
    if (hint !== undefined) {
      const unit = hint.startsWith('a duration') ? ', with its unit' : '';
      return `must be ${hint}${unit} (got the ${got} ${JSON.stringify(value)})`;
    }
  }
  return `must be ${type} (got ${got})`;
}

/** Turns a JSON pointer (`/spec/hosts/2`) into the path users write (`spec.hosts[2]`). */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^[0-9]+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** Joins a location prefix (file and document) with a field path. */
export function joinPath(prefix: string, path: string): string {
  if (prefix === '') return path === '' ? '(root)' : path;
  return path === '' ? prefix : `${prefix} ${path}`;
}

interface SchemaErrorLike {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describe(error: SchemaErrorLike, value: unknown, schema: SchemaNode): string | undefined {
  const p = error.params;
  switch (error.keyword) {
    case 'boolean': {
      const slash = error.instancePath.lastIndexOf('/');
      const name = error.instancePath
        .slice(slash + 1)
        .replaceAll('~1', '/')
        .replaceAll('~0', '~');
      const known = fieldsAt(schema, error.instancePath.slice(0, slash));
      const near = closestName(name, known);
      if (near) return `unknown field; did you mean ${near}?`;
      return known.length > 0 && known.length <= 12
        ? `unknown field (known here: ${known.join(', ')})`
        : 'unknown field';
    }
    case 'additionalProperties':
      return undefined; // reported once per field by the `boolean` entry
    case 'required':
      return undefined; // expanded by the caller, one entry per missing field
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')} (got ${JSON.stringify(value)})`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)} (got ${JSON.stringify(value)})`;
    case 'pattern': {
      const pattern = String(p.pattern);
      const hint = PATTERN_HINTS.get(pattern);
      const fix = typeof value === 'string' ? PATTERN_FIXES.get(pattern)?.(value) : undefined;
      const offered = fix !== undefined && fix !== value && new RegExp(pattern).test(fix);
      return `must be ${hint ?? `a string matching ${pattern}`} (got ${JSON.stringify(value)}${offered ? `; write ${JSON.stringify(fix)}` : ''})`;
    }
    case 'maxProperties':
    case 'minProperties': {
      const fields = value && typeof value === 'object' ? Object.keys(value) : [];
      const limit = Number(p.limit);
      const want = error.keyword === 'maxProperties' ? `at most ${limit}` : `at least ${limit}`;
      const exactly = limit === 1 ? 'must have exactly one field' : `must have ${want} fields`;
      return `${exactly} (got ${fields.length === 0 ? 'none' : fields.join(', ')})`;
    }
    case 'type':
      return wrongTypeText(schema, error.instancePath, value, String(p.type));
    default:
      return error.message;
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[raw.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return cur;
}

/**
 * Interpreted checks are cheap to start and slow per value; a compiled validator costs about as
 * much to build as this many interpreted checks of a document and is then about twenty times
 * faster. A schema is compiled once it has checked this much (a thousand policies: 160 ms
 * interpreted, 20 ms compiled), so a small config does not pay for compiling at start.
 */
const COMPILE_AFTER = 16;
const checked = new WeakMap<TSchema, number>();
const validators = new WeakMap<TSchema, Validator>();

/**
 * True when the value is valid: by the check the shipped bundle generated for the schema when
 * there is one (contract/api/precompiled-checks.ts), else by the compiled validator once the
 * schema has earned one, before that by the interpreted check (which stops at the first problem,
 * where collecting the errors walks everything and describes each step).
 */
function valid(schema: TSchema, value: unknown, weight: number): boolean {
  const precompiled = precompiledCheck(schema);
  if (precompiled) return precompiled(value);
  let validator = validators.get(schema);
  if (!validator) {
    const work = (checked.get(schema) ?? 0) + weight;
    checked.set(schema, work);
    if (work < COMPILE_AFTER) return Check(schema as never, value);
    validator = Compile(schema as never) as Validator;
    validators.set(schema, validator);
  }
  return validator.Check(value);
}

/**
 * Checks a value against a schema and returns every problem with its field path; no side effects.
 * `weight` is how many documents' worth the value holds (a whole config with its policies), for
 * when to compile the schema.
 */
export function schemaErrors(schema: TSchema, value: unknown, prefix: string, weight = 1): FieldError[] {
  // Valid values (nearly all of them) skip the walk that collects and describes errors.
  if (valid(schema, value, weight)) return [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of Errors(schema, value)[1] as Iterable<SchemaErrorLike>) {
    if (e.keyword === 'required') {
      for (const name of (e.params.requiredProperties as string[]) ?? []) {
        const path = joinPath(prefix, pointerToPath(`${e.instancePath}/${name}`));
        const key = `${path}\0required`;
        if (!seen.has(key)) {
          seen.add(key);
          errors.push({ path, message: 'is required' });
        }
      }
      continue;
    }
    const message = describe(e, valueAt(value, e.instancePath), schema as SchemaNode);
    if (message === undefined) continue;
    const path = joinPath(prefix, pointerToPath(e.instancePath));
    const key = `${path}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ path, message });
  }
  return errors;
}

/**
 * Problems of the items of a list, each located as `at[i]` and showing the item; `problem` says
 * what is wrong with one item, or undefined when it is fine.
 */
export function listItemErrors(
  items: readonly string[],
  at: string,
  problem: (item: string) => string | undefined,
): FieldError[] {
  const errors: FieldError[] = [];
  items.forEach((item, i) => {
    const found = problem(item);
    if (found) errors.push({ path: `${at}[${i}]`, message: `${found} (got ${JSON.stringify(item)})` });
  });
  return errors;
}
