import { request } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { eventually, feed } from './hostile.ts';
import { HttpBrowser, signInWithDevProvider } from './http-browser.ts';
import { cookieHeader } from './session-ends.ts';
import { type SignInStack, type SignInStackOptions, startSignInStack } from './sign-in-stack.ts';
import type { Handler } from './upstream.ts';

/** Requests in progress when their session ends: the application and the steps of those tests. */

/** Paths whose request the application saw end (the sidecar aborted it, or it was answered). */
export const closedUpstream = new Set<string>();

/**
 * Paths with `events` stream an event every 100 ms; `flood` streams as fast as it is read; `poll`
 * never answers; `upload` reads its body and never answers.
 */
export const inProgressApplication: Handler = (req, res) => {
  const path = req.url ?? '';
  res.once('close', () => closedUpstream.add(path));
  if (path.includes('flood')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    feed(res, Buffer.alloc(64 * 1024, 'x'));
    return;
  }
  if (path.includes('events')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const tick = setInterval(() => res.write(`data: ${n++}\n\n`), 100);
    res.once('close', () => clearInterval(tick));
    return;
  }
  if (path.includes('poll')) return;
  if (path.includes('upload')) {
    req.resume();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('page');
};

/** Signs in through the stack; the cookie header and the session id its request lines carry. */
export async function signedIn(
  stack: SignInStack,
  login = 'alice',
): Promise<{ cookie: string; sessionId: string }> {
  const browser = new HttpBrowser();
  await signInWithDevProvider(browser, `${stack.origin}/start-${login}`, login);
  const line = () => stack.sidecar.records().findLast((l) => l.uri === `/start-${login}` && l.status === 200);
  await eventually('the sign-in\u2019s last request line', () => line() !== undefined);
  return { cookie: cookieHeader(browser, stack.origin), sessionId: String(line()?.sessionId) };
}

/** Sends a request the application holds; resolves once it is there, with the answer to come. */
export async function longPoll(
  stack: SignInStack,
  cookie: string,
  path: string,
  accept = 'application/json',
): Promise<{ answered: Promise<{ status: number; body: string; location: unknown; at: number }> }> {
  const answered = request(`${stack.origin}${path}`, { headers: { cookie, accept } }).then(async (r) => ({
    status: r.statusCode,
    body: await r.body.text(),
    location: r.headers.location,
    at: performance.now(),
  }));
  await eventually(`${path} held by the application`, () => stack.upstream.seen.some((s) => s.url === path));
  return { answered };
}

/** The request line of `uri`, once written. */
export async function lineOf(stack: SignInStack, uri: string): Promise<Record<string, unknown> | undefined> {
  const line = () => stack.sidecar.records().find((l) => l.uri === uri);
  await eventually(`the request line of ${uri}`, () => line() !== undefined);
  return line();
}

/** Resolves once the application saw the requests of these paths end. */
export const upstreamDone = (...paths: string[]) =>
  eventually(
    `the application\u2019s side of ${paths.join(', ')} ended`,
    () => paths.every((p) => closedUpstream.has(p)),
    3_000,
  );

/** Installs the stack's config changed by `change`, under a new generation each time. */
export function configInstaller(
  stack: () => SignInStack,
): (change: (config: SidecarConfig) => SidecarConfig) => void {
  let generation = 0;
  return (change) => {
    generation++;
    const current = stack();
    current.sidecar.sidecar.install(
      change({ ...current.config, generation: generation.toString(16).padStart(16, '0') }),
    );
  };
}

/** A change that revokes one session (as a sign-out elsewhere or `gatehouse revoke` does). */
export const revokingSession =
  (name: string, sessionId: string) =>
  (config: SidecarConfig): SidecarConfig => ({
    ...config,
    revocations: [
      ...config.revocations,
      {
        name,
        user: null,
        subject: null,
        provider: null,
        session: sessionId,
        before: Math.ceil(Date.now() / 1000),
        reason: null,
      },
    ],
  });

/**
 * For one describe block: a sign-in stack serving inProgressApplication, started before its
 * tests and closed after them. Called, it is the stack; `install` changes its config.
 */
export function inProgressStack(
  options: SignInStackOptions = {},
): (() => SignInStack) & { install: (change: (config: SidecarConfig) => SidecarConfig) => void } {
  let stack: SignInStack | undefined;
  beforeAll(async () => {
    stack = await startSignInStack({ application: inProgressApplication, ...options });
  });
  afterAll(async () => stack?.close());
  const current = (): SignInStack => {
    if (stack === undefined) throw new Error('the stack starts before the tests of its block');
    return stack;
  };
  return Object.assign(current, { install: configInstaller(current) });
}
