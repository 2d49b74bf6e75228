import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { request } from 'undici';
import WebSocket from 'ws';
import { type DevProvider, startDevProvider } from '../../examples/demo/dev-provider.ts';
import { HttpBrowser, signInWithDevProvider, submitForm } from './http-browser.ts';

/** The event claim of a back-channel logout token. */
export const LOGOUT_EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };

export interface BackchannelProvider {
  readonly provider: DevProvider;
  /** The provider's signing key (private), to mint logout tokens the sidecar must judge. */
  readonly key: JWK & { kid: string };
  /** What the provider reported of each back-channel logout it sent. */
  readonly deliveries: string[];
  close(): Promise<void>;
}

/**
 * oidc-provider with its own Back-Channel Logout 1.0 feature on, a known RS256 signing key, and
 * one client `wiki` whose back-channel logout URI is on `origin` (one replica, as providers
 * call one URL).
 */
export async function startBackchannelProvider(origin: string): Promise<BackchannelProvider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const key = { ...(await exportJWK(privateKey)), kid: 'test-signing-key', alg: 'RS256', use: 'sig' };
  const provider = await startDevProvider({
    backchannelLogout: true,
    jwks: { keys: [key] },
    clients: [
      {
        client_id: 'wiki',
        client_secret: 'wiki-secret',
        redirect_uris: [`${origin}/.gatehouse/callback`],
        post_logout_redirect_uris: [`${origin}/.gatehouse/signed-out`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        backchannel_logout_uri: `${origin}/.gatehouse/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
    ],
  });
  const deliveries: string[] = [];
  provider.provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }) =>
    deliveries.push(`ok ${client.clientId}`),
  );
  provider.provider.on('backchannel.error', (_ctx: unknown, error: Error) =>
    deliveries.push(`error ${error.message} ${String((error as { cause?: unknown }).cause)}`),
  );
  return { provider, key, deliveries, close: () => provider.close() };
}

/** Signs in as alice through the sidecar at `origin`; the browser keeps the provider's cookies too. */
export async function signIn(
  origin: string,
  login = 'alice',
): Promise<{ browser: HttpBrowser; cookie: string }> {
  const browser = new HttpBrowser();
  const pages = await signInWithDevProvider(browser, `${origin}/home`, login);
  if (pages.at(-1)?.status !== 200) throw new Error(`sign-in ended with ${pages.at(-1)?.status}`);
  return { browser, cookie: cookieHeader(browser, origin) };
}

export function cookieHeader(browser: HttpBrowser, origin: string): string {
  return [...browser.cookies(origin)].map(([n, v]) => `${n}=${v}`).join('; ');
}

/** Signs out as the sign-out page's form does: a POST from the same origin. Resolves with the status. */
export async function signOut(
  origin: string,
  cookie: string,
  headers: Record<string, string> = {},
  /** The sign-out's query: `?everywhere=1` is the page's "Sign out on every device". */
  query = '',
): Promise<number> {
  const response = await request(`${origin}/.gatehouse/logout${query}`, {
    method: 'POST',
    headers: { cookie, origin, 'sec-fetch-site': 'same-origin', ...headers },
  });
  await response.body.dump();
  return response.statusCode;
}

/** Ends the user's session at the provider itself (its end_session page, confirmed), as an administrator or the user would there. */
export async function endAtProvider(browser: HttpBrowser, issuer: string): Promise<void> {
  const pages = await browser.follow(`${issuer}/session/end`);
  const form = pages.at(-1);
  if (!form?.body.includes('op.logoutForm'))
    throw new Error(`no logout form at the provider: ${form?.status}`);
  await submitForm(browser, form, { logout: 'yes' }, (url) => !url.startsWith(issuer));
}

/** Whether the sidecar at `origin` forwards a request with this cookie to the application. */
export async function forwarded(
  origin: string,
  cookie: string,
  path: string,
  upstreamPaths: readonly string[],
): Promise<boolean> {
  const seen = upstreamPaths.length;
  const response = await request(`${origin}${path}`, { headers: { cookie, accept: 'text/html' } });
  await response.body.dump();
  return response.statusCode === 200 && upstreamPaths.slice(seen).includes(path);
}

/** Opens a WebSocket through the sidecar at `origin` with this cookie; resolves once it echoes. */
export async function openSocket(origin: string, cookie: string): Promise<WebSocket> {
  const socket = new WebSocket(`${origin.replace('http', 'ws')}/live`, { headers: { cookie } });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
  });
  const echoed = new Promise<string>((r) => socket.once('message', (m) => r(String(m))));
  socket.send('ping');
  if ((await echoed) !== 'echo:ping') throw new Error('no echo');
  return socket;
}

/** A logout token with the given claims over the defaults (a valid one for `sub`), signed with `key`. */
export async function logoutToken(
  key: JWK & { kid: string },
  claims: Record<string, unknown>,
  options: { readonly omit?: readonly string[] } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { jti: randomUUID(), events: LOGOUT_EVENT, iat: now, ...claims };
  for (const name of options.omit ?? []) delete payload[name];
  const { importJWK } = await import('jose');
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt' })
    .sign(await importJWK(key, 'RS256'));
}

/** Posts a logout token to the sidecar's back-channel logout endpoint; resolves with status and body. */
export async function postLogoutToken(
  origin: string,
  token: string,
): Promise<{ status: number; body: string }> {
  const response = await request(`${origin}/.gatehouse/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  return { status: response.statusCode, body: await response.body.text() };
}

/** A stream of events through a sidecar, open and flowing. */
export interface OpenEventStream {
  /** When its body ended or broke (performance.now()), and how. */
  readonly ended: Promise<{ readonly at: number; readonly how: 'end' | 'error' }>;
  close(): void;
}

/** Opens `/events…` through the sidecar at `origin` with this cookie; resolves once an event has come. */
export async function openEventStream(
  origin: string,
  cookie: string,
  path: string,
): Promise<OpenEventStream> {
  const response = await request(`${origin}${path}`, {
    headers: { cookie, accept: 'text/event-stream' },
  });
  if (response.statusCode !== 200) throw new Error(`event stream refused: ${response.statusCode}`);
  const body = response.body;
  const ended = new Promise<{ at: number; how: 'end' | 'error' }>((resolve) => {
    body.once('end', () => resolve({ at: performance.now(), how: 'end' }));
    body.once('error', () => resolve({ at: performance.now(), how: 'error' }));
  });
  await new Promise<void>((resolve, reject) => {
    body.once('data', () => resolve());
    void ended.then(() => reject(new Error('event stream ended before its first event')));
  });
  body.resume();
  return { ended, close: () => body.destroy() };
}

/**
 * Sends `/poll…` through the sidecar at `origin` with this cookie; resolves once the application
 * holds it (it never answers), with the answer the client will get.
 */
export async function openLongPoll(
  origin: string,
  cookie: string,
  path: string,
  upstreamPaths: readonly string[],
): Promise<{ readonly answered: Promise<{ readonly at: number; readonly status: number }> }> {
  const answered = request(`${origin}${path}`, { headers: { cookie, accept: 'application/json' } }).then(
    async (response) => {
      const at = performance.now();
      await response.body.dump();
      return { at, status: response.statusCode };
    },
  );
  const since = performance.now();
  while (!upstreamPaths.includes(path)) {
    if (performance.now() - since > 5_000) throw new Error(`${path} never reached the application`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { answered };
}

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};
