import { describe, expect, it } from 'vitest';
import { renderSidecarConfig } from '../../contract/config/render.ts';
import { MAX_REVOCATIONS } from '../../contract/config/sidecar-config.ts';
import type { RevocationView } from '../../contract/revocations.ts';
import { createRevocationFanOut } from '../../operator/src/controller/publish-revocations.ts';
import { ConfigHub } from '../../operator/src/delivery/config-hub.ts';
import { createOperatorMetrics } from '../../operator/src/operator-metrics.ts';
import { testApplication } from '../helpers/fixtures.ts';

const NOW = new Date('2026-12-04T12:00:00Z');
const HOUR = 3_600_000;
const KEYS = ['corp/wiki', 'corp/crm', 'shop/front'];

function view(name: string, applications: string[] | null, user = `${name}@example.com`): RevocationView {
  return {
    name,
    user,
    subject: null,
    provider: null,
    before: NOW.getTime() / 1000 - 60,
    reason: 'stolen laptop',
    applications: applications ? new Set(applications) : null,
  };
}

/** A hub serving the three applications, each stream recorded; the revocations in force; the fan-out. */
function setUp() {
  const hub = new ConfigHub();
  const result = renderSidecarConfig({ application: testApplication({ policies: [] }), revocations: [] });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const lines = new Map<string, string[]>();
  for (const key of KEYS) {
    hub.publish(key, result.config, '{"keys":[]}');
    const seen: string[] = [];
    hub.subscribe(key, (line) => seen.push(line));
    lines.set(key, seen);
  }
  const inForce = new Map<string, RevocationView>();
  const metrics = createOperatorMetrics({
    queueDepth: () => 0,
    applicationsByReady: () => ({}),
    podsWithoutSidecar: () => new Map(),
    servicesPastSidecar: () => new Map(),
    appPortsOpen: () => new Map(),
  });
  const changed = createRevocationFanOut(
    { hub, metrics, revocations: () => inForce.values(), now: () => NOW },
    new Map(KEYS.map((key) => [key, HOUR])),
  );
  /** Puts a revocation in force (or takes it out) and tells the fan-out, as the cache does. */
  const change = (before: RevocationView | undefined, after: RevocationView | undefined): void => {
    const name = (after ?? before)?.name as string;
    if (after) inForce.set(name, after);
    else inForce.delete(name);
    changed(before, after);
  };
  /** The revocation names of each `revocations` line a stream got after its config. */
  const sent = (key: string): string[][] =>
    (lines.get(key) ?? [])
      .slice(1)
      .map((line) => JSON.parse(line) as { type: string; revocations: { name: string }[] })
      .filter((message) => message.type === 'revocations')
      .map((message) => message.revocations.map((r) => r.name));
  return { change, sent, hub };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('revocations fan out to the streams of the applications they cover, without a render', () => {
  it('one for every application reaches every stream, in the next turn of the event loop', async () => {
    const { change, sent } = setUp();
    change(undefined, view('everywhere', null));
    expect(sent('corp/wiki')).toEqual([]);
    await nextTurn();
    for (const key of KEYS) expect(sent(key)).toEqual([['everywhere']]);
  });

  it('one for some applications reaches only theirs; the others get nothing', async () => {
    const { change, sent } = setUp();
    change(undefined, view('crm-only', ['corp/crm']));
    await nextTurn();
    expect(sent('corp/crm')).toEqual([['crm-only']]);
    expect(sent('corp/wiki')).toEqual([]);
    expect(sent('shop/front')).toEqual([]);
  });

  it('changes in one turn go out as one line per application, with every revocation in force', async () => {
    const { change, sent } = setUp();
    change(undefined, view('a', null));
    change(undefined, view('b', ['shop/front']));
    change(undefined, view('c', ['corp/wiki', 'shop/front']));
    await nextTurn();
    expect(sent('corp/wiki')).toEqual([['a', 'c']]);
    expect(sent('corp/crm')).toEqual([['a']]);
    expect(sent('shop/front')).toEqual([['a', 'b', 'c']]);
  });

  it('a revocation taken away, or moved to other applications, is taken away where it was', async () => {
    const { change, sent } = setUp();
    const wikiOnly = view('moved', ['corp/wiki']);
    change(undefined, wikiOnly);
    await nextTurn();
    change(wikiOnly, view('moved', ['corp/crm']));
    await nextTurn();
    expect(sent('corp/wiki')).toEqual([['moved'], []]);
    expect(sent('corp/crm')).toEqual([['moved']]);
    change(view('moved', ['corp/crm']), undefined);
    await nextTurn();
    expect(sent('corp/crm')).toEqual([['moved'], []]);
  });

  it('a revocation whose sessions can no longer be alive (cut-off plus lifetime passed) is not sent', async () => {
    const { change, sent } = setUp();
    change(undefined, { ...view('old', null), before: NOW.getTime() / 1000 - 2 * 3600 });
    await nextTurn();
    for (const key of KEYS) expect(sent(key)).toEqual([]);
  });

  it(`more than a sidecar takes (${MAX_REVOCATIONS}) are not sent at all: the new ones stay pending`, async () => {
    const { change, sent, hub } = setUp();
    for (let i = 0; i < MAX_REVOCATIONS; i++) change(undefined, view(`r${i}`, ['corp/wiki']));
    await nextTurn();
    expect(sent('corp/wiki').map((names) => names.length)).toEqual([MAX_REVOCATIONS]);
    change(undefined, view('one-too-many', ['corp/wiki']));
    await nextTurn();
    expect(sent('corp/wiki')).toHaveLength(1);
    expect(hub.servedRevocations('corp/wiki')?.has('one-too-many')).toBe(false);
  });
});
