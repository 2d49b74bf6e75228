import { describe, expect, it } from 'vitest';
import { preferredUsername } from '../../sidecar/src/auth/identity-document.ts';
import { headerText, utf8Field } from '../../sidecar/src/http/utf8-field.ts';
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

describe('headerText', () => {
  const wire = (bytes: number[] | string) =>
    (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes)).toString('latin1');
  it.each([
    ['ASCII, as it is', wire('Mozilla/5.0'), 'Mozilla/5.0'],
    ['UTF-8 bytes, as the text they encode', wire('Café ☕ 開発'), 'Café ☕ 開発'],
    ['Latin-1 bytes that are not UTF-8, as Latin-1', wire([0x43, 0x61, 0x66, 0xe9]), 'Café'],
    ['a UTF-8 sequence cut short, as Latin-1', wire([0x61, 0xe2, 0x82]), 'a\u00e2\u0082'],
    ['an overlong encoding, as Latin-1', wire([0xc0, 0xaf]), '\u00c0\u00af'],
    ['a tab among UTF-8, as the text', wire('a\té'), 'a\té'],
    ['the UTF-8 of what utf8Field sends, back', utf8Field('yuki@例え.jp'), 'yuki@例え.jp'],
  ])('%s', (_, value, text) => {
    expect(headerText(value)).toBe(text);
  });
});
