import type { Session } from '../../sidecar/src/auth/session.ts';

/** A signed-in session of `sub-<sid>` at the corp provider, valid for lifetimeS from now. */
export function testSession(sid: string, lifetimeS = 3600, groups: readonly string[] = []): Session {
  const now = Math.floor(Date.now() / 1000);
  return {
    v: 1,
    sid,
    sub: `sub-${sid}`,
    email: null,
    groups: [...groups],
    idp: 'corp',
    claims: {},
    iat: now,
    exp: now + lifetimeS,
    seen: now,
    refreshAt: null,
    refreshToken: null,
    idToken: null,
  };
}
