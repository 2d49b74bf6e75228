import { describe, expect, it } from 'vitest';
import { cookieName } from '../../sidecar/src/auth/cookies.ts';
import { gatewayPaths, ROOT_PATHS } from '../../sidecar/src/auth/gateway-paths.ts';
import { safeReturnPath } from '../../sidecar/src/auth/return-path.ts';

const ORIGIN = 'https://tools.example.com';
const WIKI = gatewayPaths('/wiki');

describe('the gateway\u2019s paths', () => {
  it('at the root and under a base path', () => {
    expect(ROOT_PATHS).toMatchObject({
      prefix: '/.gatehouse/',
      login: '/.gatehouse/login',
      callback: '/.gatehouse/callback',
      home: '/',
      sessionCookie: '/',
    });
    expect(WIKI).toMatchObject({
      prefix: '/wiki/.gatehouse/',
      login: '/wiki/.gatehouse/login',
      callback: '/wiki/.gatehouse/callback',
      logout: '/wiki/.gatehouse/logout',
      signedOut: '/wiki/.gatehouse/signed-out',
      backchannelLogout: '/wiki/.gatehouse/backchannel-logout',
      frontchannelLogout: '/wiki/.gatehouse/frontchannel-logout',
      jwks: '/wiki/.gatehouse/jwks.json',
      userinfo: '/wiki/.gatehouse/userinfo',
      home: '/wiki/',
      sessionCookie: '/wiki',
    });
  });

  it.each([
    ['/wiki', true],
    ['/wiki/', true],
    ['/wiki/a/b', true],
    ['/wikipedia', false],
    ['/wik', false],
    ['/', false],
    ['/grafana/wiki', false],
  ])('%s is the application\u2019s under /wiki: %s', (path, held) => {
    expect(WIKI.holds(path)).toBe(held);
    expect(ROOT_PATHS.holds(path)).toBe(true);
  });

  it.each([
    ['/wiki/a?b=1', '/wiki/a?b=1'],
    ['/wiki', '/wiki'],
    ['/wikipedia/x', '/wiki/'],
    ['/grafana/d', '/wiki/'],
    ['/', '/wiki/'],
    ['//evil.example/wiki', '/wiki/'],
    ['https://tools.example.com/wiki/a', '/wiki/'],
    ['/wiki/../grafana', '/wiki/'],
    ['', '/wiki/'],
  ])('a return path %j under /wiki is %j', (candidate, expected) => {
    expect(safeReturnPath(candidate, ORIGIN, WIKI)).toBe(expected);
  });

  it('names a Secure cookie __Host- at the root and __Secure- under a path (the prefixes browsers enforce)', () => {
    expect(cookieName('_gatehouse', true, '/')).toBe('__Host-_gatehouse');
    expect(cookieName('_gatehouse', true, '/wiki')).toBe('__Secure-_gatehouse');
    expect(cookieName('_gatehouse', false, '/wiki')).toBe('_gatehouse');
  });
});
