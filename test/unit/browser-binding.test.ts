import { describe, expect, it } from 'vitest';
import type { AuthRuntime } from '../../sidecar/src/auth/auth-runtime.ts';
import {
  BINDING_MAX_AGE_SECONDS,
  bindingForSignIn,
  browserBinding,
} from '../../sidecar/src/auth/browser-binding.ts';

const auth = (secure: boolean) =>
  ({ settings: { session: { secure, cookieName: '_gatehouse' } } }) as unknown as AuthRuntime;
const GOOD = 'AbCdEfGhIjKlMnOpQrSt_-';

describe('a browser\u2019s sign-in binding', () => {
  it.each<[string, string | undefined, string | undefined]>([
    ['the __Host- cookie', `a=1; __Host-_gatehouse_b=${GOOD}; b=2`, GOOD],
    ['none', 'a=1', undefined],
    ['no Cookie header', undefined, undefined],
    [
      'the same name without the prefix (any host of the domain can set it)',
      `_gatehouse_b=${GOOD}`,
      undefined,
    ],
    ['a value of another shape', '__Host-_gatehouse_b=short', undefined],
    ['a value with a character outside base64url', `__Host-_gatehouse_b=${GOOD.slice(1)}=`, undefined],
    ['the first of two copies', `__Host-_gatehouse_b=${GOOD}; __Host-_gatehouse_b=${'x'.repeat(22)}`, GOOD],
  ])('is read from %s', (_what, header, expected) => {
    expect(browserBinding(auth(true), header)).toBe(expected);
  });

  it('is none without https, and none is started', () => {
    expect(browserBinding(auth(false), `__Host-_gatehouse_b=${GOOD}`)).toBeUndefined();
    expect(bindingForSignIn(auth(false), undefined)).toBeNull();
  });

  it('a sign-in keeps the browser\u2019s own; a browser without one gets a new, random one, for 400 days', () => {
    expect(bindingForSignIn(auth(true), `__Host-_gatehouse_b=${GOOD}`)).toEqual({
      value: GOOD,
      setCookie: null,
    });
    const a = bindingForSignIn(auth(true), 'a=1');
    const b = bindingForSignIn(auth(true), 'a=1');
    expect(a?.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a?.value).not.toBe(b?.value);
    expect(a?.setCookie).toBe(
      `__Host-_gatehouse_b=${a?.value}; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=${BINDING_MAX_AGE_SECONDS}`,
    );
    // What the sidecar sets, it reads back.
    expect(browserBinding(auth(true), String(a?.setCookie).split(';')[0])).toBe(a?.value);
  });
});
