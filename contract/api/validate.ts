import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import type { FieldError } from '../errors.ts';

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

function describe(error: SchemaErrorLike, value: unknown): string | undefined {
  const p = error.params;
  switch (error.keyword) {
    case 'boolean':
      return 'unknown field';
    case 'additionalProperties':
      return undefined; // reported once per field by the `boolean` entry
    case 'required':
      return undefined; // expanded by the caller, one entry per missing field
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')} (got ${JSON.stringify(value)})`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)} (got ${JSON.stringify(value)})`;
    case 'pattern':
      return `has an invalid format (got ${JSON.stringify(value)})`;
    case 'maxProperties':
    case 'minProperties': {
      const fields = value && typeof value === 'object' ? Object.keys(value) : [];
      const limit = Number(p.limit);
      const want = error.keyword === 'maxProperties' ? `at most ${limit}` : `at least ${limit}`;
      const exactly = limit === 1 ? 'must have exactly one field' : `must have ${want} fields`;
      return `${exactly} (got ${fields.length === 0 ? 'none' : fields.join(', ')})`;
    }
    case 'type':
      return `must be ${String(p.type)} (got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
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

/** Checks a value against a schema and returns every problem with its field path; no side effects. */
export function schemaErrors(schema: TSchema, value: unknown, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value) as Iterable<SchemaErrorLike>) {
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
    const message = describe(e, valueAt(value, e.instancePath));
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
