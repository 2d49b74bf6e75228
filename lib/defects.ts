/**
 * Errors that nothing handled (a throw outside every handler, a promise rejected with no catch):
 * the process must end, as Node.js would end it, since nothing tells what state the rest is in.
 * This says so first, in a form a log line can carry.
 */

/** The exit status of a process ended by an error nothing handled (sysexits' EX_SOFTWARE). */
export const DEFECT_EXIT_CODE = 70;

const MAX_MESSAGE = 1_000;
const MAX_FRAMES = 10;

export type DefectOrigin = 'uncaught_exception' | 'unhandled_rejection';

/** An unhandled error as a log line carries it: its name and message (capped), and up to 10 frames. */
export interface DefectReport {
  readonly origin: DefectOrigin;
  readonly error: string;
  readonly stack: string[];
}

function reportOf(origin: DefectOrigin, thrown: unknown): DefectReport {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return {
    origin,
    error: `${error.name}: ${error.message}`.slice(0, MAX_MESSAGE),
    stack: (error.stack ?? '')
      .split('\n')
      .filter((line) => line.trimStart().startsWith('at '))
      .slice(0, MAX_FRAMES)
      .map((line) => line.trim()),
  };
}

/**
 * Calls `failed` for the first error nothing handled (a second one while it runs is not
 * reported); the error also goes to stderr as Node.js would print it. `failed` ends the process.
 */
export function onDefect(failed: (report: DefectReport) => void): void {
  let failing = false;
  const fail = (origin: DefectOrigin, thrown: unknown): void => {
    if (failing) return;
    failing = true;
    console.error(thrown);
    failed(reportOf(origin, thrown));
  };
  process.on('uncaughtException', (error) => fail('uncaught_exception', error));
  process.on('unhandledRejection', (reason) => fail('unhandled_rejection', reason));
}
