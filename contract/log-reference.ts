import type { TProperties, TSchema } from 'typebox';
import { AUTH_EVENT_CONTEXT, AUTH_EVENTS, SIDECAR_EVENTS } from './log-events.ts';
import { OPERATOR_EVENTS } from './operator-events.ts';

/**
 * The log reference's tables, rendered from the line schemas: the request line in each profile,
 * the sidecar's events and the auth events (docs/logs.md), the operator's events
 * (docs/operator.md).
 */

interface Described {
  description?: string;
  type?: string;
  const?: unknown;
  enum?: readonly string[];
  anyOf?: Described[];
  items?: Described;
  properties?: Record<string, Described>;
  required?: readonly string[];
}

const code = (text: string) => `\`${text}\``;
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function typeName(s: Described): string {
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.enum) return 'string';
  if (s.anyOf) return s.anyOf.map(typeName).join(' | ');
  if (s.type === 'array') return `array of ${typeName(s.items ?? {})}`;
  return s.type ?? 'any';
}

/** A field's meaning: its description, the values of an enum its description does not list, the fields of an object. */
function meaning(field: Described): string {
  const parts = [field.description ?? ''];
  const values = field.enum ?? field.anyOf?.find((a) => a.enum)?.enum;
  if (values && !values.every((v) => parts[0]?.includes(code(v))))
    parts.push(`One of ${values.map(code).join(', ')}.`);
  const nested = field.anyOf?.find((a) => a.properties)?.properties ?? field.properties;
  if (nested) parts.push(`Fields: ${Object.keys(nested).map(code).join(', ')}.`);
  return parts.filter(Boolean).join(' ');
}

/** A markdown table of a line schema's fields: name, JSON type, meaning. */
export function lineTable(schema: TSchema): string {
  const s = schema as Described;
  const rows = Object.entries(s.properties ?? {}).map(
    ([name, field]) => `| ${code(name)} | ${cell(typeName(field))} | ${cell(meaning(field))} |`,
  );
  return ['| Field | Type | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/** `name` (type): meaning, for each field of an event; optional ones say so. */
function fieldList(fields: TProperties): string {
  return Object.entries(fields as Record<string, Described & { '~optional'?: boolean }>)
    .map(([name, field]) => {
      const optional = (field as Record<string, unknown>)['~optional'] === true ? ', when present' : '';
      return `${code(name)} (${typeName(field)}${optional}): ${meaning(field)}`;
    })
    .join('<br>');
}

function eventTable(events: Record<string, { description: string; fields: TProperties }>): string {
  const rows = Object.entries(events).map(
    ([type, spec]) => `| ${code(type)} | ${cell(spec.description)} | ${cell(fieldList(spec.fields))} |`,
  );
  return ['| `type` | What happened | Fields |', '|---|---|---|', ...rows].join('\n');
}

/** The sidecar's own events (life, config, revocations, tunnels). */
export function sidecarEventTable(): string {
  return eventTable(SIDECAR_EVENTS);
}

/** The auth events, after the fields they all carry. */
export function authEventTable(): string {
  const context = Object.keys(AUTH_EVENT_CONTEXT).map(code).join(', ');
  return `Every auth event carries \`type\`, \`time\` and the request that caused it (${context}), then:\n\n${eventTable(AUTH_EVENTS)}`;
}

/** The operator's events. */
export function operatorEventTable(): string {
  return eventTable(OPERATOR_EVENTS);
}
