import { inspect } from 'node:util';
import { framesInSource } from './source-frames.ts';

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

/**
 * An unhandled error as a log line carries it: its name and message (capped), and up to 10 frames,
 * each placed in the source when the bundle's source map places it (lib/source-frames.ts).
 */
export interface DefectReport {
  readonly origin: DefectOrigin;
  readonly error: string;
  readonly stack: string[];
}

/** Tokens as they travel: a JWT, a bearer credential, a long opaque run (a sealed cookie, a secret). */
const SECRET_SHAPES: readonly [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[token]'],
  [/\b(bearer|basic)\s+[^\s"',;]+/gi, '$1 [credential]'],
  [/[A-Za-z0-9_+=-]{40,}/g, '[opaque]'],
];

/** Known secrets shorter than this are not looked for: they would match ordinary text. */
const MIN_KNOWN_SECRET = 8;

/**
 * The text with every secret the process knows (`known`: a client secret of the config in force,
 * whatever its shape) and everything shaped like a credential replaced. An error nothing handled
 * may quote a value it choked on, and its line goes to the log stream, which must never carry a
 * secret. Shapes alone miss secrets of other shapes: a client secret of 32 characters
 * (Keycloak), of 35 (Google), or with `~` and `.` in it (Microsoft Entra).
 */
export function withoutSecrets(text: string, known: Iterable<string> = []): string {
  let out = text;
  for (const secret of known) if (secret.length >= MIN_KNOWN_SECRET) out = out.replaceAll(secret, '[secret]');
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

function reportOf(origin: DefectOrigin, thrown: unknown, known: readonly string[]): DefectReport {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return {
    origin,
    // Scrubbed, then cut: a secret cut in two at the cut would no longer be found, and its first
    // part would stay. Twice the kept length is scrubbed, more than any key's longest member.
    error: withoutSecrets(`${error.name}: ${error.message}`.slice(0, 2 * MAX_MESSAGE), known).slice(
      0,
      MAX_MESSAGE,
    ),
    stack: framesInSource(
      (error.stack ?? '')
        .split('\n')
        .filter((line) => line.trimStart().startsWith('at '))
        .slice(0, MAX_FRAMES),
    ).map((line) => withoutSecrets(line.trim(), known)),
  };
}

/**
 * Calls `failed` for the first error nothing handled (a second one while it runs is not
 * reported), with credentials in its message and frames replaced (withoutSecrets, with the
 * secrets `knownSecrets` gives at that moment); the error also goes to stderr as Node.js would
 * print it, scrubbed the same way. `failed` ends the process.
 */
export function onDefect(
  failed: (report: DefectReport) => void,
  knownSecrets: () => readonly string[] = () => [],
): void {
  let failing = false;
  const fail = (origin: DefectOrigin, thrown: unknown): void => {
    if (failing) return;
    failing = true;
    let known: readonly string[] = [];
    try {
      known = knownSecrets();
    } catch {
      // the shapes still apply
    }
    // As Node.js would print it, but without credentials: stderr reaches the same log store.
    process.stderr.write(`${withoutSecrets(inspect(thrown), known)}\n`);
    failed(reportOf(origin, thrown, known));
  };
  process.on('uncaughtException', (error) => fail('uncaught_exception', error));
  process.on('unhandledRejection', (reason) => fail('unhandled_rejection', reason));
}
