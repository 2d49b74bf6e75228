import { UsageError } from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { parseRfc3339, RFC3339_HINT } from '../../../lib/rfc3339.ts';
import { newServiceToken } from '../auth/service-tokens.ts';

export const SERVICE_TOKEN_USAGE = `Usage: gatehouse service-token create <id> [--expires-at <RFC 3339 time>]

Creates a service token: prints the client secret once (give it to the machine caller) and the
YAML entry for spec.authentication.serviceTokens.tokens, which holds only the secret's hash.
`;

const ID = /^[A-Za-z0-9][-._A-Za-z0-9]{0,127}$/;

/** What `gatehouse service-token create` makes: the token id and its optional expiry. */
export interface ServiceTokenFlags {
  readonly id: string;
  readonly expiresAt?: string;
}

/** The flags of `gatehouse service-token`, checked; no side effects. Throws UsageError. */
export function parseServiceTokenFlags(argv: readonly string[]): ServiceTokenFlags {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    options: { 'expires-at': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [verb, id] = positionals;
  if (verb !== 'create' || id === undefined || positionals.length !== 2)
    throw new UsageError('expected: create <id>');
  if (!ID.test(id)) throw new UsageError(`token id ${JSON.stringify(id)} must match ${ID.source}`);
  const given = values['expires-at'];
  const at = given === undefined ? undefined : parseRfc3339(given);
  if (given !== undefined && at === undefined)
    throw new UsageError(`--expires-at ${JSON.stringify(given)}: give ${RFC3339_HINT}`);
  // In UTC, as the schema's date-time and every log line have times.
  const expiresAt = at === undefined ? undefined : new Date(at).toISOString().replace('.000Z', 'Z');
  return { id, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** `gatehouse service-token create`: a new random secret and the hash to configure. */
export function runServiceTokenCommand(argv: string[]): number {
  const { id, expiresAt } = parseServiceTokenFlags(argv);
  const token = newServiceToken();
  process.stdout.write(
    `# Client id:     ${id}\n# Client secret: ${token.secret}\n# (shown once; store it in the caller's secret store)\n` +
      `- id: ${id}\n  secretHash: ${token.secretHash}\n${expiresAt ? `  expiresAt: ${expiresAt}\n` : ''}`,
  );
  return 0;
}
