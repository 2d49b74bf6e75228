/** One JSON line on stdout per operator event, like the sidecar's: type, time, then the fields. */
export function logOperatorEvent(type: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), type, ...fields })}\n`);
}

/** The message of an error, for a log field (never the object: it may carry a request with credentials). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
