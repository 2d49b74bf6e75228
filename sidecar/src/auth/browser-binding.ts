import { randomBytes } from 'node:crypto';
import type { AuthRuntime } from './auth-runtime.ts';
import { bindingCookieName, readCookies, serializeCookie } from './cookies.ts';

/**
 * A browser's sign-in binding: a random value in a `__Host-` cookie, sealed into each login
 * cookie it starts and required back at the callback. A login cookie is scoped to the sign-in
 * routes, so it cannot carry the `__Host-` prefix, and a page of any sibling host can set a cookie
 * of its name for the whole parent domain; without the binding, an attacker's own sign-in,
 * planted that way, finished in the victim's browser and signed the victim in as the attacker.
 * Only an https application has one (the prefix needs Secure).
 */

/** 400 days, the longest a browser keeps a cookie: a browser is bound once, not at every sign-in. */
export const BINDING_MAX_AGE_SECONDS = 400 * 24 * 60 * 60;
const BINDING_VALUE = /^[A-Za-z0-9_-]{22}$/;

/** The binding the request's browser has; undefined without one (or without https). */
export function browserBinding(
  auth: AuthRuntime,
  cookieHeader: string | string[] | undefined,
): string | undefined {
  if (!auth.settings.session.secure) return undefined;
  const name = bindingCookieName(auth.settings.session.cookieName);
  const value = readCookies(cookieHeader, name).get(name);
  return value !== undefined && BINDING_VALUE.test(value) ? value : undefined;
}

/**
 * The binding a sign-in starting now is tied to: the browser's own, or a new one with the
 * Set-Cookie that gives it to the browser. Null without https.
 */
export function bindingForSignIn(
  auth: AuthRuntime,
  cookieHeader: string | string[] | undefined,
): { readonly value: string; readonly setCookie: string | null } | null {
  if (!auth.settings.session.secure) return null;
  const present = browserBinding(auth, cookieHeader);
  if (present !== undefined) return { value: present, setCookie: null };
  const value = randomBytes(16).toString('base64url');
  const name = bindingCookieName(auth.settings.session.cookieName);
  return {
    value,
    setCookie: serializeCookie(name, value, { secure: true, maxAge: BINDING_MAX_AGE_SECONDS }),
  };
}
