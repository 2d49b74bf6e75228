import type { OperatorEventFields, OperatorEventType } from '../../contract/operator-events.ts';

/**
 * One JSON line on stdout per operator event: time, type, then the fields its schema lists
 * (contract/operator-events.ts, imported as types only). Written at once, so none is lost when
 * the process ends.
 */
export function logOperatorEvent<T extends OperatorEventType>(type: T, fields: OperatorEventFields<T>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), type, ...fields })}\n`);
}

/** What a part of the operator is given to write its events with. */
export type OperatorLog = typeof logOperatorEvent;

/** The message of an error, for a log field (never the object: it may carry a request with credentials). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
