/** Printable ASCII: text a header carries byte for byte. */
const ASCII = /^[\x20-\x7e]*$/;

/**
 * The header text that puts `value` on the wire as UTF-8, as oauth2-proxy and Pomerium send
 * identity values. The HTTP client writes header text one byte per character (Latin-1) and
 * refuses characters above U+00FF, so a value outside ASCII is given as the Latin-1 text of its
 * UTF-8 bytes: a group named `開発` or an email `yuki@例え.jp` reaches the application as its
 * UTF-8 bytes instead of failing the request. The value must hold no control characters (the
 * identity is cleaned of them at sign-in).
 */
export function utf8Field(value: string): string {
  return ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What a client meant by a header value as Node.js reads it (one character per byte): the UTF-8
 * reading of its bytes when they are valid UTF-8, as browsers and most clients send text outside
 * ASCII, else the Latin-1 reading (RFC 9110's obs-text). For logs: a User-Agent `Café` sent as
 * UTF-8 was logged `CafÃ©`, which no search for it finds.
 */
export function headerText(value: string): string {
  if (ASCII.test(value)) return value;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}
