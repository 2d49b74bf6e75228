import { describe, expect, it } from 'vitest';
import type { RevocationView } from '../../contract/revocations.ts';
import { SESSION_END_ACCOUNT_LABEL, sessionEndAccount } from '../../contract/session-ends.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import type { Informer } from '../../operator/src/controller/informer.ts';
import { createOperatorCaches, type InformerFactory } from '../../operator/src/operator-caches.ts';

/** Caches over stores the test fills, as the informers would; what they queue and tell, recorded. */
function setUp() {
  const changes = new Map<string, (key: string, object: KubeObject | undefined) => void>();
  const stores = new Map<string, Map<string, KubeObject>>();
  const factory: InformerFactory = (resource, onChange) => {
    const store = new Map<string, KubeObject>();
    stores.set(resource.plural, store);
    changes.set(resource.plural, (key, object) => {
      if (object) store.set(key, object);
      else store.delete(key);
      onChange(key, object);
    });
    const informer: Informer = {
      synced: Promise.resolve(),
      get: (key) => store.get(key),
      values: () => store.values(),
      get size() {
        return store.size;
      },
      stop: () => undefined,
    };
    return informer;
  };
  const queued: string[] = [];
  const caches = createOperatorCaches(factory, (key) => queued.push(key));
  const told: [string | undefined, string | undefined][] = [];
  caches.onRevocationChange((before, after) => told.push([label(before), label(after)]));
  const change = (plural: string, key: string, object: KubeObject | undefined): void =>
    (changes.get(plural) as (key: string, object: KubeObject | undefined) => void)(key, object);
  for (const key of KEYS) {
    const [namespace, name] = key.split('/') as [string, string];
    change('accessapplications', key, {
      metadata: { name, namespace },
      spec: { hosts: [`${name}.example.com`], upstream: { url: 'http://127.0.0.1:9' }, policies: [] },
    } as unknown as KubeObject);
  }
  queued.length = 0;
  /** Stores an AccessRevocation (or deletes it: spec undefined) as its watch event would. */
  const revocation = (
    name: string,
    spec: Record<string, unknown> | undefined,
    labels?: Record<string, string>,
  ): void =>
    change(
      'accessrevocations',
      `/${name}`,
      spec
        ? ({
            apiVersion: 'gatehouse.dev/v1alpha1',
            kind: 'AccessRevocation',
            metadata: { name, creationTimestamp: '2026-12-04T10:00:00Z', ...(labels ? { labels } : {}) },
            spec,
          } as unknown as KubeObject)
        : undefined,
    );
  return { queued, told, revocation, caches };
}

const label = (view: RevocationView | undefined): string | undefined =>
  view && `${view.name}:${view.applications ? [...view.applications].join(',') : '*'}`;

const KEYS = ['corp/wiki', 'corp/crm', 'shop/front'];

describe('the operator caches, when an AccessRevocation changes', () => {
  it('one of a single session re-renders its application only, and is told to the fan-out', () => {
    const { queued, told, revocation } = setUp();
    revocation('signed-out', { session: 'abcdefghijklmnopqrstuv', applications: ['corp/crm'] });
    expect(queued.sort()).toEqual(['app:corp/crm', 'revocation:signed-out']);
    expect(told).toEqual([[undefined, 'signed-out:corp/crm']]);
  });

  it('one for every application re-renders every application', () => {
    const { queued, revocation } = setUp();
    revocation('everywhere', { user: 'ada@example.com' });
    expect(queued.sort()).toEqual([
      'app:corp/crm',
      'app:corp/wiki',
      'app:shop/front',
      'revocation:everywhere',
    ]);
  });

  it('one moved to other applications re-renders where it was and where it is; deleted, where it was', () => {
    const { queued, told, revocation } = setUp();
    revocation('moved', { user: 'ada@example.com', applications: ['corp/wiki'] });
    queued.length = 0;
    revocation('moved', { user: 'ada@example.com', applications: ['shop/front'] });
    expect(queued.sort()).toEqual(['app:corp/wiki', 'app:shop/front', 'revocation:moved']);
    queued.length = 0;
    revocation('moved', undefined);
    expect(queued.sort()).toEqual(['app:shop/front', 'revocation:moved']);
    expect(told.at(-1)).toEqual(['moved:shop/front', undefined]);
  });

  it('a reading that renders the same (a status write) re-renders nothing and tells no one', () => {
    const { queued, told, revocation } = setUp();
    revocation('same', { user: 'ada@example.com', applications: ['corp/wiki'] });
    queued.length = 0;
    told.length = 0;
    revocation('same', { user: 'ada@example.com', applications: ['corp/wiki'] });
    expect(queued).toEqual(['revocation:same']);
    expect(told).toEqual([]);
  });

  it('counts the revocations in force that cover each application', () => {
    const { caches, revocation } = setUp();
    const session = (i: number) => ({
      session: `session-${String(i).padStart(12, '0')}`,
      applications: ['corp/crm'],
    });
    for (let i = 0; i < 3; i++) revocation(`end-${i}`, session(i));
    revocation('two', { user: 'ada@example.com', applications: ['corp/crm', 'shop/front'] });
    revocation('everywhere', { user: 'bob@example.com' });
    expect(KEYS.map((key) => caches.revocationsCovering(key))).toEqual([1, 5, 2]);
    revocation('end-0', undefined);
    revocation('two', { user: 'ada@example.com', applications: ['corp/wiki'] });
    revocation('everywhere', undefined);
    expect(KEYS.map((key) => caches.revocationsCovering(key))).toEqual([1, 2, 0]);
  });

  it('counts the session ends in force of each account in each application, by their label', () => {
    const { caches, revocation } = setUp();
    const mallory = sessionEndAccount('corp', 'mallory');
    const alice = sessionEndAccount('corp', 'alice');
    const end = (i: number, application = 'corp/crm') => ({
      session: `session-${String(i).padStart(12, '0')}`,
      applications: [application],
    });
    const of = (account: string) => ({ [SESSION_END_ACCOUNT_LABEL]: account });
    for (let i = 0; i < 4; i++) revocation(`m-${i}`, end(i), of(mallory));
    revocation('m-wiki', end(10, 'corp/wiki'), of(mallory));
    revocation('a-0', end(20), of(alice));
    revocation('unlabelled', end(30));
    revocation('bad-label', end(31), of('mallory@example.com'));
    expect(caches.accountEndsCovering('corp/crm', mallory)).toBe(4);
    expect(caches.accountEndsCovering('corp/wiki', mallory)).toBe(1);
    expect(caches.accountEndsCovering('corp/crm', alice)).toBe(1);
    expect(caches.revocationsCovering('corp/crm')).toBe(7);
    // Deleted (expired), relabelled, or the label taken off: counted where it is now.
    revocation('m-0', undefined);
    revocation('m-1', end(1), of(alice));
    revocation('m-2', end(2));
    expect(caches.accountEndsCovering('corp/crm', mallory)).toBe(1);
    expect(caches.accountEndsCovering('corp/crm', alice)).toBe(2);
    revocation('m-3', undefined);
    expect(caches.accountEndsCovering('corp/crm', mallory)).toBe(0);
  });
});
