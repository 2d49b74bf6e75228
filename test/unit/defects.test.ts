import { describe, expect, it } from 'vitest';
import { withoutSecrets } from '../../lib/defects.ts';

// What a defect's log line may quote of the error: never a credential it choked on.

const jwt =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZGEiLCJleHAiOjE3OTk5OTk5OTl9.MEUCIQD0Zx3yv2R8Q9n1Bf4YF6s';
const sealed = 'v1.k1.3q2+7w9A_bZfR0tLmN8pQ4sVxYc1DeFgHiJkLoPqRsTuVwXyZaBcDeFgH';
const secret = 'Zx9Qw3rT5yU7iO1pA2sD4fG6hJ8kL0zXcVbNm12345';

describe('a defect line without secrets', () => {
  it.each([
    ['a JWT in the message', `TypeError: bad token ${jwt} here`, 'TypeError: bad token [token] here'],
    [
      'a bearer credential',
      'Error: header was Bearer abc.def-123 then',
      'Error: header was Bearer [credential] then',
    ],
    [
      'a basic credential',
      'Error: authorization: Basic dXNlcjpwYXNz',
      'Error: authorization: Basic [credential]',
    ],
    ['a sealed cookie', `Error: could not open ${sealed}`, 'Error: could not open v1.k1.[opaque]'],
    ['a service token secret', `RangeError: ${secret}`, 'RangeError: [opaque]'],
    [
      'an ordinary message',
      'Error: planted defect at /srv/app/dist/sidecar/server.js:12:3',
      'Error: planted defect at /srv/app/dist/sidecar/server.js:12:3',
    ],
    [
      'a stack frame in a deep module path',
      'at Parser.execute (/app/node_modules/undici/lib/dispatcher/client-h1.js:612:20)',
      'at Parser.execute (/app/node_modules/undici/lib/dispatcher/client-h1.js:612:20)',
    ],
    [
      'a request id and a config generation',
      'Error: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 0123456789abcdef',
      'Error: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 0123456789abcdef',
    ],
  ])('%s', (_what, text, expected) => {
    expect(withoutSecrets(text)).toBe(expected);
  });
});
