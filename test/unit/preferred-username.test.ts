import { describe, expect, it } from 'vitest';
import { preferredUsername } from '../../sidecar/src/pipeline/stages/stamp-identity.ts';
import type { PolicyIdentity } from '../../sidecar/src/policy/input.ts';

// The preferred_username claim goes into a request header (oauth2-proxy profile): only a value a
// header can carry as it is, else none.

const identity = (value: unknown): PolicyIdentity => ({
  kind: 'user',
  sub: 's',
  email: null,
  groups: [],
  idp: 'corp',
  claims: { preferred_username: value },
  serviceTokenId: null,
  serviceAccount: null,
});

describe('preferredUsername', () => {
  it.each([
    ['a plain name', 'grace', 'grace'],
    ['non-ASCII letters', 'grâce', 'grâce'],
    ['CR LF (header injection)', 'grace\r\nX-Forwarded-Email: admin@corp.example', null],
    ['a NUL', 'gr\u0000ace', null],
    ['a C1 control', 'gr\u0085ace', null],
    ['beyond Latin-1 (a header cannot carry it)', '日本', null],
    ['empty', '', null],
    ['over 256 characters', 'x'.repeat(257), null],
    ['not a string', ['grace'], null],
    ['absent', undefined, null],
  ])('%s', (_, value, expected) => {
    expect(preferredUsername(identity(value))).toBe(expected);
  });
});
