import { describe, expect, it } from 'vitest';
import { canonicalizeTarget } from '../../contract/policy/canonical-path.ts';

describe('canonicalizeTarget', () => {
  const accepted: [string, string, string][] = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', ''],
    ['/a?x=1&y=%2F', '/a', 'x=1&y=%2F'],
    ['/a//b', '/a/b', ''],
    ['//admin', '/admin', ''],
    ['/a/./b', '/a/b', ''],
    ['/a/../b', '/b', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/b/.', '/a/b/', ''],
    ['/public/%2e%2e/admin', '/admin', ''],
    ['/public/%2E%2e/admin', '/admin', ''],
    ['/%61dmin', '/admin', ''],
    ['/a%20b', '/a%20b', ''],
    ['/a%2db', '/a-b', ''],
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['/a?x=1;y=2', '/a', 'x=1;y=2'],
    ['/100%25', '/100%25', ''],
    ['/100%25off', '/100%25off', ''],
    ['/ADMIN', '/ADMIN', ''],
    ['/a/.hidden', '/a/.hidden', ''],
    ['/a/..b', '/a/..b', ''],
    ['/..a/', '/..a/', ''],
  ];
  it.each(accepted)('%s → %s ? %s', (target, path, query) => {
    expect(canonicalizeTarget(target)).toEqual({ path, query });
  });

  const rejected: [string, string][] = [
    ['*', 'bad_request_target'],
    ['http://evil.test/admin', 'bad_request_target'],
    ['admin', 'bad_request_target'],
    ['', 'bad_request_target'],
    ['/a#frag', 'bad_request_target'],
    ['/%2fadmin', 'ambiguous_path'],
    ['/%2Fadmin', 'ambiguous_path'],
    ['/public/..%2fadmin', 'ambiguous_path'],
    ['/a%5cb', 'ambiguous_path'],
    ['/a\\b', 'ambiguous_path'],
    ['/admin%00', 'ambiguous_path'],
    ['/admin;x=1', 'ambiguous_path'],
    ['/public/..;/admin', 'ambiguous_path'],
    ['/admin%3bx', 'ambiguous_path'],
    ['/admin%23x', 'ambiguous_path'],
    ['/admin%3Fx', 'ambiguous_path'],
    ['/public/%252e%252e/admin', 'ambiguous_path'],
    ['/%252fadmin', 'ambiguous_path'],
    ['/admin%0a', 'ambiguous_path'],
    ['/admin%7f', 'ambiguous_path'],
    ['/a%zz', 'bad_percent_encoding'],
    ['/a%2', 'bad_percent_encoding'],
    ['/a%', 'bad_percent_encoding'],
    ['/..', 'path_escapes_root'],
    ['/../etc/passwd', 'path_escapes_root'],
    ['/a/../../b', 'path_escapes_root'],
    ['/%2e%2e/x', 'path_escapes_root'],
    ['/a\u0001', 'bad_request_target'],
    ['/é', 'bad_request_target'],
  ];
  it.each(rejected)('%s is refused with %s', (target, code) => {
    const result = canonicalizeTarget(target);
    expect('error' in result && result.error).toBe(code);
  });

  it('is idempotent: a canonical path canonicalises to itself', () => {
    for (const [target] of accepted) {
      const once = canonicalizeTarget(target);
      if ('error' in once) throw new Error('unexpected');
      const twice = canonicalizeTarget(once.query ? `${once.path}?${once.query}` : once.path);
      expect(twice).toEqual(once);
    }
  });
});
