import { describe, expect, it } from 'vitest';
import { utf8Field } from '../../sidecar/src/http/utf8-field.ts';
import { preferredUsername } from '../../sidecar/src/pipeline/stages/stamp-identity.ts';
import type { PolicyIdentity } from '../../sidecar/src/policy/input.ts';

// The preferred_username claim goes into a request header (oauth2-proxy profile), as UTF-8: any
// name without control characters, else none. Header text carries a value outside ASCII as the
// Latin-1 text of its UTF-8 bytes, which is what the application receives.

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
    ['beyond Latin-1', '日本', '日本'],
    ['DEL', 'gr\u007face', null],
    ['empty', '', null],
    ['over 256 characters', 'x'.repeat(257), null],
    ['not a string', ['grace'], null],
    ['absent', undefined, null],
  ])('%s', (_, value, expected) => {
    expect(preferredUsername(identity(value))).toBe(expected);
  });
});

describe('utf8Field', () => {
  it.each([
    ['ASCII, as it is', 'grace@corp.example', 'grace@corp.example'],
    ['Latin-1 letters, as UTF-8', 'Équipe', '\u00c3\u0089quipe'],
    ['beyond Latin-1, as UTF-8', '開発', '\u00e9\u0096\u008b\u00e7\u0099\u00ba'],
    [
      'an email with a Unicode domain',
      'yuki@例え.jp',
      Buffer.from('yuki@例え.jp', 'utf8').toString('latin1'),
    ],
    ['empty', '', ''],
  ])('%s', (_, value, wire) => {
    const field = utf8Field(value);
    expect(field).toBe(wire);
    // One byte per character on the wire, and those bytes are the UTF-8 of the value.
    expect([...field].every((c) => c.charCodeAt(0) <= 0xff)).toBe(true);
    expect(Buffer.from(field, 'latin1').toString('utf8')).toBe(value);
  });
});
