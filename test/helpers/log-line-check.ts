import type { TObject, TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { EVENT_LINES } from '../../contract/log-events.ts';
import { CloudflareRequestLine, NativeRequestLine } from '../../contract/log-line.ts';
import { OPERATOR_EVENT_LINES } from '../../contract/operator-events.ts';

// Every line a sidecar or an operator process writes in a test is checked against its schema
// (contract/log-line.ts, contract/log-events.ts, contract/operator-events.ts): a field the schema
// does not list, a missing one or a wrong type fails the test that produced it.

const validators = new Map<TSchema, Validator>();

/** A schema's compiled validator, compiled once. */
function validatorOf(schema: TSchema): Validator {
  let validator = validators.get(schema);
  if (!validator) {
    validator = Compile(schema);
    validators.set(schema, validator);
  }
  return validator;
}

/** The schema of an event line by its type, or why there is none. */
function eventSchema(lines: Readonly<Record<string, TObject>>, type: unknown): TSchema | string {
  return typeof type === 'string' && Object.hasOwn(lines, type)
    ? (lines[type] as TObject)
    : `no schema for type ${String(type)}`;
}

/** What is wrong with one line by the schema `schemaOf` gives it; empty when it matches. */
function problemsAgainst(
  line: unknown,
  schemaOf: (line: Record<string, unknown>) => TSchema | string,
): string[] {
  if (!line || typeof line !== 'object' || Array.isArray(line)) return ['not a JSON object'];
  const schema = schemaOf(line as Record<string, unknown>);
  if (typeof schema === 'string') return [schema];
  const validator = validatorOf(schema);
  if (validator.Check(line)) return [];
  return validator.Errors(line).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

/** What is wrong with one sidecar log line, by its schema; empty when it matches. */
export function logLineProblems(line: unknown): string[] {
  return problemsAgainst(line, (l) => {
    if (l.type === 'request') return NativeRequestLine;
    if (l.GatehouseType === 'request') return CloudflareRequestLine;
    return eventSchema(EVENT_LINES, l.type);
  });
}

/** What is wrong with one operator log line, by its schema; empty when it matches. */
export function operatorLineProblems(line: unknown): string[] {
  return problemsAgainst(line, (l) => eventSchema(OPERATOR_EVENT_LINES, l.type));
}

/** Throws when any line does not match its schema, naming the first few and what is wrong. */
export function assertLogLinesMatchSchema(
  lines: Iterable<unknown>,
  problemsOf: (line: unknown) => string[] = logLineProblems,
): void {
  const wrong: string[] = [];
  for (const line of lines) {
    const parsed = typeof line === 'string' ? (JSON.parse(line) as unknown) : line;
    const problems = problemsOf(parsed);
    if (problems.length > 0) wrong.push(`${problems.join('; ')} in ${JSON.stringify(parsed)}`);
    if (wrong.length === 5) break;
  }
  if (wrong.length > 0) throw new Error(`log lines that do not match their schema:\n${wrong.join('\n')}`);
}
