import { Compile, type Validator } from 'typebox/compile';
import { EVENT_LINES } from '../../contract/log-events.ts';
import { CloudflareRequestLine, NativeRequestLine } from '../../contract/log-line.ts';
import { OPERATOR_EVENT_LINES } from '../../contract/operator-events.ts';

// Every line a sidecar or an operator process writes in a test is checked against its schema
// (contract/log-line.ts, contract/log-events.ts, contract/operator-events.ts): a field the schema
// does not list, a missing one or a wrong type fails the test that produced it.

const native = Compile(NativeRequestLine);
const cloudflare = Compile(CloudflareRequestLine);
const events = new Map<string, Validator>();

function validatorOf(line: Record<string, unknown>): Validator | string {
  if (line.type === 'request') return native;
  if (line.GatehouseType === 'request') return cloudflare;
  const type = line.type;
  if (typeof type !== 'string' || !Object.hasOwn(EVENT_LINES, type))
    return `no schema for type ${String(type)}`;
  let validator = events.get(type);
  if (!validator) {
    validator = Compile(EVENT_LINES[type as keyof typeof EVENT_LINES]);
    events.set(type, validator);
  }
  return validator;
}

/** What is wrong with one sidecar log line, by its schema; empty when it matches. */
export function logLineProblems(line: unknown): string[] {
  if (!line || typeof line !== 'object' || Array.isArray(line)) return ['not a JSON object'];
  const validator = validatorOf(line as Record<string, unknown>);
  if (typeof validator === 'string') return [validator];
  if (validator.Check(line)) return [];
  return validator.Errors(line).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

const operatorEvents = new Map<string, Validator>();

/** What is wrong with one operator log line, by its schema; empty when it matches. */
export function operatorLineProblems(line: unknown): string[] {
  if (!line || typeof line !== 'object' || Array.isArray(line)) return ['not a JSON object'];
  const type = (line as Record<string, unknown>).type;
  if (typeof type !== 'string' || !Object.hasOwn(OPERATOR_EVENT_LINES, type))
    return [`no schema for type ${String(type)}`];
  let validator = operatorEvents.get(type);
  if (!validator) {
    validator = Compile(OPERATOR_EVENT_LINES[type as keyof typeof OPERATOR_EVENT_LINES]);
    operatorEvents.set(type, validator);
  }
  if (validator.Check(line)) return [];
  return validator.Errors(line).map((e) => `${e.instancePath || '/'}: ${e.message}`);
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
