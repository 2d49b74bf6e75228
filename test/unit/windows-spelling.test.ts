import { describe, expect, it } from 'vitest';
import { canonicalizeTarget, windowsSpelling } from '../../contract/policy/canonical-path.ts';

// Paths that Windows reads as another (an application with case-insensitive paths: IIS, ASP.NET,
// Windows file servers), found on the canonical path the policies see.

/** The canonical path of a raw target, as check-request hands it on. */
function canonical(target: string): string {
  const result = canonicalizeTarget(target);
  if ('error' in result) throw new Error(`${target}: ${result.error}`);
  return result.path;
}

describe('a path Windows reads as another', () => {
  it.each([
    ['/admin./users', 'dot'],
    ['/admin.', 'dot'],
    ['/admin.../users', 'dot'],
    ['/admin%2e/users', 'dot'],
    ['/admin%2E', 'dot'],
    ['/admin%20/users', 'space'],
    ['/admin.%20/users', 'space'],
    ['/admin%20.%20/users', 'space'],
    ['/files/report.pdf./', 'dot'],
    ['/admin::$INDEX_ALLOCATION/users', 'colon'],
    ['/admin:$i30:$INDEX_ALLOCATION/users', 'colon'],
    ['/admin%3a%3a$INDEX_ALLOCATION/users', 'colon'],
    ['/web.config::$DATA', 'colon'],
    ['/ADMINI~1/users', 'short name'],
    ['/files/REPORT~2.PDF', 'short name'],
  ])('%s (%s)', (target) => {
    expect(windowsSpelling(canonical(target))).toMatch(/dot or a space|colon|short name/);
  });

  it.each([
    '/admin/users',
    '/ADMIN/Users',
    '/files/report.pdf',
    '/files/.well-known/x',
    '/a.b/c.d',
    '/files/~alice/notes',
    '/files/a~b',
    '/files/with%20space/inside',
    '/%20lead',
    '/',
    '/admin/',
    '/v1/items%2Cbatch',
  ])('%s reads the same', (target) => {
    expect(windowsSpelling(canonical(target))).toBeUndefined();
  });

  it('says which reading it is', () => {
    expect(windowsSpelling('/admin./x')).toBe(
      'path segment ending in a dot or a space (Windows strips them)',
    );
    expect(windowsSpelling('/admin::$DATA')).toBe(
      'colon in path (Windows reads what follows as a file stream)',
    );
    expect(windowsSpelling('/ADMINI~1')).toBe('tilde and digit in path (a Windows short name)');
  });
});
