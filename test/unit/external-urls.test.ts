import { describe, expect, it } from 'vitest';
import { externalUrlKey } from '../../contract/external-url.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { earlierHolder } from '../../operator/src/controller/external-urls.ts';

function app(
  name: string,
  externalUrl: string | undefined,
  options: {
    created?: string;
    providers?: number;
    namespace?: string;
    deleting?: boolean;
    hosts?: string[];
  } = {},
): KubeObject {
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'team',
      ...(options.created ? { creationTimestamp: options.created } : {}),
      ...(options.deleting ? { deletionTimestamp: '2026-12-06T00:00:00Z' } : {}),
    },
    spec: {
      hosts: options.hosts ?? ['*.example.com', 'wiki.example.com:8443'],
      authentication: {
        ...(externalUrl !== undefined ? { externalUrl } : {}),
        identityProviders: Array.from({ length: options.providers ?? 1 }, (_, i) => ({ name: `p${i}` })),
      },
    },
  } as KubeObject;
}

describe('the external URL applications are compared by', () => {
  it.each([
    ['an origin', 'https://wiki.example.com', 'https://wiki.example.com'],
    ['with a slash', 'https://wiki.example.com/', 'https://wiki.example.com'],
    ['an upper-case host and the default port', 'https://WIKI.example.com:443/', 'https://wiki.example.com'],
    ['another port', 'https://wiki.example.com:8443', 'https://wiki.example.com:8443'],
    ['a path', 'https://tools.example.com/grafana/', 'https://tools.example.com/grafana'],
    ['a path keeps its case', 'https://tools.example.com/Grafana', 'https://tools.example.com/Grafana'],
    ['http is another URL', 'http://wiki.example.com', 'http://wiki.example.com'],
    ['not a URL', 'wiki', undefined],
  ])('%s', (_what, url, key) => {
    expect(externalUrlKey(app('a', url))).toBe(key);
  });

  it('is none for an application that signs nobody in, has no external URL, or is being deleted', () => {
    expect(externalUrlKey(app('a', 'https://x.example.com', { providers: 0 }))).toBeUndefined();
    expect(externalUrlKey(app('a', undefined))).toBeUndefined();
    expect(externalUrlKey(app('a', 'https://x.example.com', { deleting: true }))).toBeUndefined();
    expect(externalUrlKey(undefined)).toBeUndefined();
    // Its hosts do not take its own URL: its config is refused, it signs nobody in there.
    expect(externalUrlKey(app('a', 'https://x.example.com', { hosts: ['y.example.com'] }))).toBeUndefined();
  });
});

describe('which application holds a shared external URL', () => {
  const url = 'https://wiki.example.com';
  const first = app('wiki', url, { created: '2026-12-01T10:00:00Z' });
  const copy = app('wiki-copy', url, { created: '2026-12-05T10:00:00Z' });
  const sameSecond = app('aaa', url, { created: '2026-12-05T10:00:00Z', namespace: 'other' });

  it.each([
    ['the first created holds it', first, [copy], undefined],
    ['a later one is told the first', copy, [first], 'team/wiki'],
    ['among several, the earliest', copy, [sameSecond, first], 'team/wiki'],
    ['created in the same second: by namespace/name', copy, [sameSecond], 'other/aaa'],
    ['and the other way round', sameSecond, [copy], undefined],
    ['itself does not count', first, [first], undefined],
    ['alone', first, [], undefined],
  ] as const)('%s', (_what, object, others, holder) => {
    const found = earlierHolder(object, others);
    expect(found ? `${found.metadata.namespace}/${found.metadata.name}` : undefined).toBe(holder);
  });
});
