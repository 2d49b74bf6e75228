import type { TSchema } from 'typebox';

interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.type === 'array') return `${typeOf(s.items ?? {})}[]`;
  return s.type ?? 'any';
}

function limits(s: JsonSchema): string {
  const out: string[] = [];
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.minItems !== undefined) out.push(`min ${s.minItems} items`);
  if (s.maxItems !== undefined) out.push(`max ${s.maxItems} items`);
  return out.join(', ');
}

function rows(schema: JsonSchema, path: string, required: boolean, out: string[]): void {
  if (path) {
    const desc = (schema.description ?? '').replaceAll('|', '\\|');
    const extra = limits(schema);
    out.push(
      `| \`${path}\` | ${typeOf(schema)} | ${required ? 'yes' : 'no'} | ${desc}${extra ? ` (${extra})` : ''} |`,
    );
  }
  const target = schema.type === 'array' ? schema.items : schema;
  if (target?.properties) {
    for (const [name, child] of Object.entries(target.properties)) {
      rows(
        child,
        path ? `${path}${schema.type === 'array' ? '[]' : ''}.${name}` : name,
        target.required?.includes(name) ?? false,
        out,
      );
    }
  }
}

/** Renders a field reference table (path, type, required, description) from a schema: docs never drift from code. */
export function referenceTable(schema: TSchema): string {
  const out = ['| Field | Type | Required | Description |', '|---|---|---|---|'];
  rows(schema as JsonSchema, '', true, out);
  return `${out.join('\n')}\n`;
}
