import { capField } from '../../../lib/log/sanitize.ts';

/** Network and timeout error codes that mean the provider could not be reached, not that it said no. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  // An answer over PROVIDER_ANSWER_MAX_BYTES: the provider answered, but nothing a provider says.
  'response_too_large',
]);

const MAX_CAUSES = 5;

/**
 * True when an error from a call to the identity provider means the provider was unreachable
 * (connection refused or reset, a timeout, `fetch failed`, a 5xx answer) rather than that it
 * answered and the answer was refused. Follows the `cause` chain openid-client and undici build.
 */
export function isProviderUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      status?: unknown;
      cause?: unknown;
    };
    if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
    if (e.name === 'TypeError' && e.message === 'fetch failed') return true;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
    if (typeof e.status === 'number' && e.status >= 500 && e.status < 600) return true;
    current = e.cause;
  }
  return false;
}

/**
 * What to log of a provider call's failure: its code, the provider's error and the message; of
 * the answer cut for its size when that is the cause (openid-client only says "parsing error
 * occured" of it). At most 300 characters.
 */
export function providerErrorDetail(error: unknown): string {
  let current: unknown = error;
  let shown = error as { code?: unknown; name?: unknown; error?: unknown; message?: unknown };
  for (let depth = 0; depth < MAX_CAUSES && current !== null && typeof current === 'object'; depth++) {
    const e = current as { code?: unknown; cause?: unknown };
    if (e.code === 'response_too_large') {
      shown = current as typeof shown;
      break;
    }
    current = e.cause;
  }
  const code = typeof shown?.code === 'string' ? shown.code : String(shown?.name ?? 'Error');
  const said = typeof shown?.error === 'string' ? ` ${shown.error}` : '';
  return capField(`${code}${said}: ${String(shown?.message ?? error)}`, 300);
}
