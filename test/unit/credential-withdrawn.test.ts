import { describe, expect, it } from 'vitest';
import { serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import { credentialWithdrawn } from '../../sidecar/src/pipeline/credential-withdrawn.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';
import type { RuntimeState } from '../../sidecar/src/runtime-state.ts';

/** A sealed session cookie whose protected header names `kid` (its payload does not matter here). */
const sealedUnder = (kid: string) =>
  `${Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString('base64url')}..iv.ciphertext.tag`;

type Token = { id: string; sha256: string; expiresAt: number | null };
const token = (id: string, sha256 = 'a'.repeat(64), expiresAt: number | null = null): Token => ({
  id,
  sha256,
  expiresAt,
});

/** A runtime state whose auth has these cookie keys and service tokens (the maps given are kept as they are). */
function stateWith(kids: ReadonlySet<string>, tokens: ReadonlyMap<string, Token>): RuntimeState {
  return {
    auth: {
      cookieKids: kids,
      serviceTokenById: tokens,
      sessions: { cookies: (header: string) => ({ sealed: header.split('=')[1], names: [] }) },
    },
  } as unknown as RuntimeState;
}

const scopeOf = (state: RuntimeState, authMethod: string, extra: object = {}): RequestScope =>
  ({ state, authMethod, identity: null, req: { headers: {} }, ...extra }) as unknown as RequestScope;

const kids = new Set(['k1', 'k2']);
const tokens = new Map([['ci-bot', token('ci-bot')]]);
const admitted = stateWith(kids, tokens);
const session = scopeOf(admitted, 'oidc', {
  req: { headers: { cookie: `_gatehouse=${sealedUnder('k1')}` } },
});
// As authentication makes it for a service token.
const machine = scopeOf(admitted, 'service-token', { identity: serviceTokenIdentity('ci-bot') });

/** A bearer JWT's header as the request sent it (its signature is not looked at again). */
const bearer = (claims: object) =>
  `Bearer e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`;
const accepts = { issuer: 'https://kubernetes.default.svc', audiences: ['gatehouse:reports'] };
const verifier = {};
const accountState = (serviceAccounts: object | null, settings: object | null): RuntimeState =>
  ({ auth: { serviceAccounts, settings: { serviceAccounts: settings } } }) as unknown as RuntimeState;
const account = scopeOf(accountState(verifier, accepts), 'service-account', {
  req: { headers: { authorization: bearer({ iss: accepts.issuer, aud: ['gatehouse:reports'] }) } },
});

describe('credentialWithdrawn', () => {
  it.each<[string, RequestScope, RuntimeState, boolean]>([
    ['the same auth runtime', session, admitted, false],
    ['session: the same cookie keys', session, stateWith(kids, new Map()), false],
    ['session: its key kept in a rotation', session, stateWith(new Set(['k3', 'k1']), tokens), false],
    ['session: its key removed', session, stateWith(new Set(['k2', 'k3']), tokens), true],
    ['session: authentication removed', session, { auth: null } as unknown as RuntimeState, true],
    ['token: the same tokens', machine, stateWith(new Set(['k9']), tokens), false],
    [
      'token: unchanged among others',
      machine,
      stateWith(kids, new Map([...tokens, ['nightly', token('nightly')]])),
      false,
    ],
    ['token: removed', machine, stateWith(kids, new Map([['nightly', token('nightly')]])), true],
    [
      'token: secret replaced',
      machine,
      stateWith(kids, new Map([['ci-bot', token('ci-bot', 'b'.repeat(64))]])),
      true,
    ],
    [
      'token: now expired',
      machine,
      stateWith(kids, new Map([['ci-bot', token('ci-bot', 'a'.repeat(64), Date.now() - 1)]])),
      true,
    ],
    [
      'token: an expiry ahead',
      machine,
      stateWith(kids, new Map([['ci-bot', token('ci-bot', 'a'.repeat(64), Date.now() + 60_000)]])),
      false,
    ],
    ['ServiceAccount: the same verifier', account, accountState(verifier, accepts), false],
    [
      'ServiceAccount: its audience still taken',
      account,
      accountState({}, { ...accepts, audiences: ['x', 'gatehouse:reports'] }),
      false,
    ],
    [
      'ServiceAccount: its audience dropped',
      account,
      accountState({}, { ...accepts, audiences: ['x'] }),
      true,
    ],
    [
      'ServiceAccount: another issuer',
      account,
      accountState({}, { ...accepts, issuer: 'https://other' }),
      true,
    ],
    ['ServiceAccount: no longer accepted', account, accountState(null, null), true],
    ['anonymous', scopeOf(admitted, null as unknown as string), stateWith(new Set(), new Map()), false],
  ])('%s', (_, scope, now, withdrawn) => {
    expect(credentialWithdrawn(now, scope)).toBe(withdrawn);
  });
});
