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

/** An error and its `cause` chain, as openid-client and undici build it: at most MAX_CAUSES objects. */
function* causeChain(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES && current !== null && typeof current === 'object'; depth++) {
    const e = current as Record<string, unknown>;
    yield e;
    current = e.cause;
  }
}

/**
 * True when an error from a call to the identity provider means the provider was unreachable
 * (connection refused or reset, a timeout, `fetch failed`, a 5xx answer) rather than that it
 * answered and the answer was refused. Follows the `cause` chain openid-client and undici build.
 */
export function isProviderUnreachable(error: unknown): boolean {
  for (const e of causeChain(error)) {
    if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
    if (e.name === 'TypeError' && e.message === 'fetch failed') return true;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
    if (typeof e.status === 'number' && e.status >= 500 && e.status < 600) return true;
  }
  return false;
}

/**
 * What to log of a provider call's failure: its code, the provider's error and the message; of
 * the answer cut for its size when that is the cause (openid-client only says "parsing error
 * occured" of it). At most 300 characters.
 */
export function providerErrorDetail(error: unknown): string {
  let shown = error as { code?: unknown; name?: unknown; error?: unknown; message?: unknown };
  for (const e of causeChain(error))
    if (e.code === 'response_too_large') {
      shown = e;
      break;
    }
  const code = typeof shown?.code === 'string' ? shown.code : String(shown?.name ?? 'Error');
  const said = typeof shown?.error === 'string' ? ` ${shown.error}` : '';
  return capField(`${code}${said}: ${String(shown?.message ?? error)}`, 300);
}

/**
 * When openid-client refused an ID token for its `auth_time` under a sign-in's `max_age` (the
 * claim missing, as from a provider that ignores `max_age`, or older than asked): what to log of
 * it; undefined for any other error.
 */
export function authTimeRefusal(error: unknown, maxAge: number, now: number): string | undefined {
  for (const e of causeChain(error)) {
    const message = typeof e.message === 'string' ? e.message : '';
    const cause = e.cause as { claim?: unknown; claims?: { auth_time?: unknown } } | undefined;
    if (message.includes('"auth_time"') && message.includes('missing'))
      return `the ID token has no auth_time; max_age ${maxAge} was asked`;
    if (cause !== null && typeof cause === 'object' && cause.claim === 'auth_time') {
      const at = cause.claims?.auth_time;
      return typeof at === 'number'
        ? `the ID token's auth_time is ${now - at} s old; max_age ${maxAge} was asked`
        : `the ID token's auth_time is not a time; max_age ${maxAge} was asked`;
    }
  }
  return undefined;
}
