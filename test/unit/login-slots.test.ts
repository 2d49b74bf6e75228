import { describe, expect, it } from 'vitest';
import type { AuthRuntime } from '../../sidecar/src/auth/auth-runtime.ts';
import { gatewayPaths, ROOT_PATHS } from '../../sidecar/src/auth/gateway-paths.ts';
import { signInsEndedByOverflow } from '../../sidecar/src/auth/login-flow.ts';
import {
  freeLoginSlot,
  loginCookieOfState,
  type PendingSignIn,
  stateInSlot,
} from '../../sidecar/src/auth/pending-sign-ins.ts';

const PREFIX = '_g_tx_';
const signInAuth = {
  externalHost: 'wiki.example.com',
  settings: { session: { cookieName: '_g', secure: true } },
  paths: ROOT_PATHS,
};
/** The same application served under /wiki of a shared host. */
const underWiki = { ...signInAuth, paths: gatewayPaths('/wiki') };

describe('which refused heads end the sign-ins in progress', () => {
  it.each([
    ['the callback', signInAuth, '/.gatehouse/callback?state=0abc', 16],
    ['the login route', signInAuth, '/.gatehouse/login?rd=/', 16],
    ['a head whose path is not known (the refused part starts mid-header)', signInAuth, 'okie: a=b;', 16],
    ['no head at all', signInAuth, '', 16],
    ["the application's path", signInAuth, '/reports/2026', 0],
    ['an application that signs nobody in', { ...signInAuth, externalHost: null }, '/.gatehouse/callback', 0],
    ['no authentication at all', null, '/.gatehouse/callback', 0],
    ['under a base path: its callback', underWiki, '/wiki/.gatehouse/callback?state=0abc', 16],
    [
      'under a base path: the root\u2019s routes, where its login cookies are not sent',
      underWiki,
      '/.gatehouse/login',
      0,
    ],
    ['under a base path: its application', underWiki, '/wiki/reports', 0],
  ])('%s', (_what, auth, target, ended) => {
    const answer = signInsEndedByOverflow(auth as unknown as AuthRuntime | null, target);
    expect(answer?.cookies.length ?? 0).toBe(ended);
    const path = auth === null ? '' : auth.paths.prefix.replace(/[/.]/g, '\\$&');
    for (const cookie of answer?.cookies ?? [])
      expect(cookie).toMatch(new RegExp(`^_g_tx_[0-9a-f]=; Path=${path};.*Secure.*Max-Age=0$`));
  });
});

describe('login cookie slots', () => {
  const live = (slot: string, startedAt: number | undefined): PendingSignIn => ({
    name: PREFIX + slot,
    bytes: 100,
    startedAt,
  });

  it.each([
    ['0', '_g_tx_0'],
    ['f1234', '_g_tx_f'],
    ['F1234', undefined],
    ['g1234', undefined],
    ['-abc', undefined],
    ['', undefined],
  ])('the state %j names %s', (state, name) => {
    expect(loginCookieOfState(PREFIX, state)).toBe(name);
  });

  it('a new sign-in takes a slot no live sign-in holds; a dead one is free', () => {
    const held = [...'0123456789abcde'].map((slot) => live(slot, 1_000));
    expect(freeLoginSlot(held, PREFIX)).toBe('_g_tx_f');
    const withDead = [...held.slice(0, 14), live('e', undefined)];
    for (let i = 0; i < 50; i++) expect(['_g_tx_e', '_g_tx_f']).toContain(freeLoginSlot(withDead, PREFIX));
  });

  it('every slot held: the oldest, and within a second the earlier in the header', () => {
    const all = [...'0123456789abcdef'].map((slot) => live(slot, slot === '9' || slot === '4' ? 500 : 1_000));
    expect(freeLoginSlot(all, PREFIX)).toBe('_g_tx_4');
  });

  it('draws among the free slots', () => {
    const drawn = new Set(Array.from({ length: 400 }, () => freeLoginSlot([], PREFIX)));
    expect(drawn.size).toBe(16);
  });

  it('a state in a slot names that slot', () => {
    expect(loginCookieOfState(PREFIX, stateInSlot('_g_tx_c', 'Zrandom'))).toBe('_g_tx_c');
  });
});
