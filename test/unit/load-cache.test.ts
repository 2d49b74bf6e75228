import { describe, expect, it } from 'vitest';
import type { FieldError } from '../../contract/errors.ts';
import { createLoadCache, readConfigDocuments } from '../../sidecar/src/config/config-documents.ts';
import type { ConfigSnapshot } from '../../sidecar/src/config/config-files.ts';
import { CACHED_FILE_CHARS } from '../../sidecar/src/config/load-documents.ts';

// A standalone sidecar reloads its files whenever one changes: with a shared revocations
// directory of 8,000 files, each sign-out's new file reloaded all of them, parsing and checking
// every one (about 290 ms of a stalled event loop per reload). With the load cache a reload parses
// and checks only the files whose text changed, and a file it skips is reported once.

const revocation = (name: string, user: string) =>
  `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata: {name: ${name}}\nspec: {user: ${user}, revokedBefore: '2026-12-07T00:00:00Z', reason: x}\n`;
const BROKEN =
  'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata: {name: broken}\nspec: {reason: x}\n';

const snapshot = (files: Record<string, string>, skipped: FieldError[] = []): ConfigSnapshot => ({
  files: new Map(Object.entries(files)),
  skipped,
});

describe('the load cache of a reloading source', () => {
  it('parses and checks only the files whose text changed; the others keep their (frozen) values', () => {
    const cache = createLoadCache();
    const first = readConfigDocuments(
      snapshot({
        '/r/a.yaml': revocation('a', 'ann@example.com'),
        '/r/b.yaml': revocation('b', 'bo@example.com'),
      }),
      { onInvalidRevocation: () => undefined },
      cache,
    );
    const second = readConfigDocuments(
      snapshot({
        '/r/a.yaml': revocation('a', 'ann@example.com'),
        '/r/b.yaml': revocation('b', 'cy@example.com'),
      }),
      { onInvalidRevocation: () => undefined },
      cache,
    );
    expect(second.documents[0]?.value).toBe(first.documents[0]?.value);
    expect(second.revocations[0]).toBe(first.revocations[0]);
    expect(second.documents[1]?.value).not.toBe(first.documents[1]?.value);
    expect(second.revocations.map((r) => r.user)).toEqual(['ann@example.com', 'cy@example.com']);
    expect(Object.isFrozen(first.documents[0]?.value)).toBe(true);
    // A file gone from the snapshot is gone from the cache.
    readConfigDocuments(snapshot({ '/r/a.yaml': revocation('a', 'ann@example.com') }), {}, cache);
    expect([...cache.parsed.files.keys()]).toEqual(['/r/a.yaml']);
  });

  it('a large file (a team\u2019s 1,000 policies) is parsed again when it changes, not kept parsed', () => {
    const cache = createLoadCache();
    const large = `${revocation('big', 'ann@example.com')}${'#'.repeat(CACHED_FILE_CHARS)}\n`;
    const files = { '/r/big.yaml': large, '/r/a.yaml': revocation('a', 'bo@example.com') };
    const first = readConfigDocuments(snapshot(files), {}, cache);
    const second = readConfigDocuments(snapshot(files), {}, cache);
    expect(second.documents[0]?.value).not.toBe(first.documents[0]?.value);
    expect(second.documents[1]?.value).toBe(first.documents[1]?.value);
    expect([...cache.parsed.files.keys()]).toEqual(['/r/a.yaml']);
  });

  it('a malformed revocation and a file too large are reported when first read, not at every reload', () => {
    const cache = createLoadCache();
    const told: string[] = [];
    const select = { onInvalidRevocation: (p: FieldError) => told.push(p.path) };
    const large = { path: '/r/huge.json', message: '300 MB' };
    const files = { '/r/a.yaml': revocation('a', 'ann@example.com'), '/r/broken.yaml': BROKEN };
    readConfigDocuments(snapshot(files, [large]), select, cache);
    readConfigDocuments(
      snapshot({ ...files, '/r/c.yaml': revocation('c', 'cy@example.com') }, [large]),
      select,
      cache,
    );
    expect(told).toEqual(['/r/huge.json', 'broken.yaml#1 spec']);
    // Changed and still broken: told again. The large file gone, then back: told again.
    readConfigDocuments(snapshot({ ...files, '/r/broken.yaml': `${BROKEN}# edited\n` }), select, cache);
    readConfigDocuments(snapshot(files, [large]), select, cache);
    expect(told).toEqual([
      '/r/huge.json',
      'broken.yaml#1 spec',
      'broken.yaml#1 spec',
      '/r/huge.json',
      'broken.yaml#1 spec',
    ]);
  });

  it('without a cache (gatehouse validate), every problem is an error, every time', () => {
    const read = readConfigDocuments(
      snapshot({ '/r/broken.yaml': BROKEN }, [{ path: '/r/huge.json', message: 'big' }]),
      {},
    );
    expect(read.errors.map((e) => e.path)).toEqual(['/r/huge.json', 'broken.yaml#1 spec']);
  });
});
