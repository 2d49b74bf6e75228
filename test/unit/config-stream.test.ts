import { describe, expect, it } from 'vitest';
import { renderSidecarConfig, withRevocations } from '../../contract/config/render.ts';
import type { Revocation, SidecarConfig } from '../../contract/config/sidecar-config.ts';
import {
  readStreamLine,
  revocationChanges,
  streamLine,
  withRevocationChanges,
} from '../../contract/config-stream.ts';
import { ConfigHub } from '../../operator/src/delivery/config-hub.ts';
import { TEST_KEYS, testApplication, testRevocation } from '../helpers/fixtures.ts';

const revocation = (name: string, user?: string): Revocation => testRevocation(name, user);

function rendered(revocations: Revocation[] = []): SidecarConfig {
  const result = renderSidecarConfig({ application: testApplication({ policies: [] }), revocations });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

describe('withRevocations', () => {
  it('gives exactly what a fresh render with those revocations gives, generation included', () => {
    const fresh = rendered([revocation('b'), revocation('a')]);
    const patched = withRevocations(rendered([revocation('old')]), [revocation('a'), revocation('b')]);
    expect(patched).toEqual(fresh);
    expect(patched.generation).toBe(fresh.generation);
    expect(Object.isFrozen(patched.revocations)).toBe(true);
  });

  it('changes the generation when the revocations change, and only then', () => {
    const base = rendered();
    expect(withRevocations(base, []).generation).toBe(base.generation);
    expect(withRevocations(base, [revocation('a')]).generation).not.toBe(base.generation);
  });
});

describe('config stream lines', () => {
  it.each([
    ['a config', streamLine({ type: 'config', config: rendered() }), 'config'],
    ['revocations', streamLine({ type: 'revocations', revocations: [revocation('a')] }), 'revocations'],
    ['a heartbeat', streamLine({ type: 'heartbeat' }), 'other'],
    ['a future message', '{"type":"keys-rotated"}', 'other'],
    ['a JSON scalar', '42', 'other'],
  ])('reads %s', (_what, line, type) => {
    expect(readStreamLine(line)?.type).toBe(type);
  });

  it('refuses a line that is not JSON', () => {
    expect(readStreamLine('{"type":"config"')).toBeNull();
  });
});

describe('config hub: revocations of an application that cannot be rendered', () => {
  const KEY = 'corp/wiki';

  function subscribed(hub: ConfigHub): string[] {
    const lines: string[] = [];
    hub.subscribe(KEY, (line) => lines.push(line));
    return lines;
  }

  it('sends revocations on their own, to open streams and to new ones after the config', () => {
    const hub = new ConfigHub();
    const open = subscribed(hub);
    hub.publish(KEY, rendered(), '{"keys":[]}');
    expect(hub.publishRevocations(KEY, [revocation('r1')])).toBe(true);
    expect(open.map((l) => readStreamLine(l)?.type)).toEqual(['config', 'revocations']);
    expect(subscribed(hub).map((l) => readStreamLine(l)?.type)).toEqual(['config', 'revocations']);
    expect([...(hub.servedRevocations(KEY) ?? [])]).toEqual(['r1']);
  });

  it('sends nothing when the revocations are the ones already served', () => {
    const hub = new ConfigHub();
    hub.publish(KEY, rendered([revocation('r1')]), '{"keys":[]}');
    expect(hub.publishRevocations(KEY, [revocation('r1')])).toBe(false);
    expect(hub.publishRevocations(KEY, [revocation('r1'), revocation('r2')])).toBe(true);
    expect(hub.publishRevocations(KEY, [revocation('r2'), revocation('r1')])).toBe(false);
  });

  it('serves revocations with no config at all (the operator restarted while the application is broken)', () => {
    const hub = new ConfigHub();
    expect(hub.servedRevocations(KEY)).toBeUndefined();
    hub.publishRevocations(KEY, [revocation('r1')]);
    expect([...(hub.servedRevocations(KEY) ?? [])]).toEqual(['r1']);
    expect(hub.get(KEY)).toBeUndefined();
    expect(hub.size).toBe(0);
    expect(subscribed(hub).map((l) => readStreamLine(l)?.type)).toEqual(['revocations']);
  });

  it('the render that carries them is not sent again: the sidecars already run it', () => {
    const hub = new ConfigHub();
    const open = subscribed(hub);
    hub.publish(KEY, rendered(), '{"keys":[]}');
    hub.publishRevocations(KEY, [revocation('r1')]);
    expect(hub.publish(KEY, rendered([revocation('r1')]), '{"keys":[]}')).toBe(false);
    expect(open.map((l) => readStreamLine(l)?.type)).toEqual(['config', 'revocations']);
    expect([...(hub.servedRevocations(KEY) ?? [])]).toEqual(['r1']);
    // A stream that opens now gets the config that carries them, on its own.
    const late = subscribed(hub);
    expect(late).toHaveLength(1);
    expect(late[0]).toContain('"r1"');
    // A render that changes more than the revocations is sent.
    hub.publishRevocations(KEY, [revocation('r1'), revocation('r2')]);
    const other = renderSidecarConfig({
      application: testApplication({ policies: [], hosts: ['other.test'] }),
      revocations: [revocation('r1'), revocation('r2')],
    });
    if (!other.ok) throw new Error(JSON.stringify(other.errors));
    expect(hub.publish(KEY, other.config, '{"keys":[]}')).toBe(true);
    expect(open.map((l) => readStreamLine(l)?.type)).toEqual([
      'config',
      'revocations',
      'revocations',
      'config',
    ]);
  });

  it('a new config replaces them, and is sent even when its generation is the last one', () => {
    const hub = new ConfigHub();
    const open = subscribed(hub);
    const config = rendered();
    hub.publish(KEY, config, '{"keys":[]}');
    hub.publishRevocations(KEY, [revocation('r1')]);
    expect(hub.publish(KEY, config, '{"keys":[]}')).toBe(true);
    expect(open.map((l) => readStreamLine(l)?.type)).toEqual(['config', 'revocations', 'config']);
    expect([...(hub.servedRevocations(KEY) ?? [])]).toEqual([]);
    expect(subscribed(hub)).toHaveLength(1);
  });
});

describe('revocations-changed: what a sign-out sends a sidecar that reads it', () => {
  const KEY = 'corp/wiki';
  const [a, b] = [revocation('a'), revocation('b')];

  it('the operator sends the change to those that read it, the whole list to the others', () => {
    const hub = new ConfigHub();
    const whole: string[] = [];
    const changes: string[] = [];
    hub.publish(KEY, rendered([a]), '{"keys":[]}');
    hub.subscribe(KEY, (line) => whole.push(line));
    hub.subscribe(KEY, (line) => changes.push(line), { revocationChanges: true });
    hub.publishRevocations(KEY, [a, b]);
    hub.publishRevocations(KEY, [b]);
    const changed = { ...b, reason: 'updated' };
    hub.publishRevocations(KEY, [changed]);
    expect(whole.slice(1).map((l) => JSON.parse(l))).toEqual([
      { type: 'revocations', revocations: [a, b] },
      { type: 'revocations', revocations: [b] },
      { type: 'revocations', revocations: [changed] },
    ]);
    // Each names the generation the sidecar's config has once applied: the render's with that list.
    const config = rendered([a]);
    expect(changes.slice(1).map((l) => JSON.parse(l))).toEqual([
      {
        type: 'revocations-changed',
        added: [b],
        removed: [],
        generation: withRevocations(config, [a, b]).generation,
      },
      {
        type: 'revocations-changed',
        added: [],
        removed: ['a'],
        generation: withRevocations(config, [b]).generation,
      },
      {
        type: 'revocations-changed',
        added: [changed],
        removed: [],
        generation: withRevocations(config, [changed]).generation,
      },
    ]);
    // Applied in turn to the config the sidecar started with, each gives the whole list.
    let inForce = rendered([a]).revocations;
    for (const line of changes.slice(1)) {
      const message = JSON.parse(line) as { added: unknown; removed: unknown };
      inForce = withRevocationChanges(inForce, message.added, message.removed) as typeof inForce;
    }
    expect(inForce).toEqual([changed]);
  });

  it('a stream opened after revocations went on their own gets the whole list first, then changes to it', () => {
    const hub = new ConfigHub();
    hub.publish(KEY, rendered(), '{"keys":[]}');
    hub.publishRevocations(KEY, [a]);
    const lines: string[] = [];
    hub.subscribe(KEY, (line) => lines.push(line), { revocationChanges: true });
    hub.publishRevocations(KEY, [a, b]);
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(['config', 'revocations', 'revocations-changed']);
    expect(JSON.parse(lines[2] as string)).toEqual({
      type: 'revocations-changed',
      added: [b],
      removed: [],
      generation: withRevocations(rendered(), [a, b]).generation,
    });
  });

  it('an application with no config yet is sent whole lists, whatever the subscriber reads', () => {
    const hub = new ConfigHub();
    const lines: string[] = [];
    hub.subscribe(KEY, (line) => lines.push(line), { revocationChanges: true });
    hub.publishRevocations(KEY, [a]);
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(['revocations']);
  });

  it.each([
    ['added and removed', [a, b], [revocation('c')], ['a'], ['b', 'c']],
    ['an added one replaces its name', [a, b], [{ ...a, reason: 'x' }], [], ['b', 'a']],
    ['nothing', [a], [], [], ['a']],
    ['a removed name not in force', [a], [], ['zzz'], ['a']],
  ])('withRevocationChanges: %s', (_name, inForce, added, removed, names) => {
    const after = withRevocationChanges(inForce, added, removed) as { name: string }[];
    expect(after.map((r) => r.name)).toEqual(names);
  });

  it.each([
    ['added not a list', { a: 1 }, []],
    ['removed not a list', [], 'a'],
    ['a removed name not a string', [], [1]],
  ])('withRevocationChanges refuses a malformed message: %s', (_name, added, removed) => {
    expect(withRevocationChanges([a], added, removed)).toBeUndefined();
  });

  it('revocationChanges: new and changed are added, gone are removed, the same are neither', () => {
    expect(revocationChanges([a, b], [{ ...b, reason: 'x' }, revocation('c')])).toEqual({
      added: [{ ...b, reason: 'x' }, revocation('c')],
      removed: ['a'],
    });
    expect(revocationChanges([a], [a])).toEqual({ added: [], removed: [] });
  });

  it('unsubscribing again after the last stream left does not drop a stream opened since', () => {
    const hub = new ConfigHub();
    const leave = hub.subscribe(KEY, () => undefined);
    leave();
    const lines: string[] = [];
    hub.subscribe(KEY, (line) => lines.push(line));
    leave();
    hub.publish(KEY, rendered([a]), '{"keys":[]}');
    expect(lines).toHaveLength(1);
    expect(hub.connected).toBe(1);
  });
});

describe('config hub: the secrets an operator defect must not log', () => {
  it('are those of every config published, and go with the application', () => {
    const hub = new ConfigHub();
    const keys = TEST_KEYS('ES256');
    const base = rendered();
    const withSecrets: SidecarConfig = {
      ...base,
      auth: {
        ...base.auth,
        providers: [
          {
            name: 'corp',
            displayName: 'corp',
            issuer: 'http://127.0.0.1:9/',
            clientId: 'gatehouse',
            clientSecret: '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',
            scopes: ['openid'],
            groupsClaim: 'groups',
            allowUnverifiedEmail: false,
          },
        ],
      },
      keys,
    };
    hub.publish('corp/wiki', withSecrets, '{"keys":[]}');
    hub.publish('corp/other', base, '{"keys":[]}');
    const secrets = hub.secrets();
    expect(secrets).toContain('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');
    for (const key of keys.cookie) expect(secrets).toContain(key.secret);
    for (const jwk of keys.signing) expect(secrets).toContain(jwk.d);
    hub.remove('corp/wiki');
    expect(hub.secrets()).not.toContain('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');
  });
});

describe('config hub: why an application has no config (waiting)', () => {
  const KEY = 'corp/wiki';
  const types = (lines: string[]) => lines.map((l) => readStreamLine(l));

  it('tells open streams and new ones why, once per reason, until the first config', () => {
    const hub = new ConfigHub();
    const open: string[] = [];
    hub.subscribe(KEY, (line) => open.push(line));
    expect(hub.knows(KEY)).toBe(false);
    hub.wait(KEY, 'ProviderSecretMissing', 'Secret corp/idp not found');
    hub.wait(KEY, 'ProviderSecretMissing', 'Secret corp/idp not found'); // a reconcile again: nothing new
    expect(hub.knows(KEY)).toBe(true);
    const late: string[] = [];
    hub.subscribe(KEY, (line) => late.push(line));
    for (const lines of [open, late])
      expect(types(lines)).toEqual([
        { type: 'waiting', reason: 'ProviderSecretMissing', message: 'Secret corp/idp not found' },
      ]);
    hub.publish(KEY, rendered(), '{"keys":[]}');
    // Once there is a config, a reason for not being ready is not sent: the sidecars serve it.
    hub.wait(KEY, 'PolicyNotFound', 'AccessPolicy x not found');
    expect(types(open).map((m) => m?.type)).toEqual(['waiting', 'config']);
    const after: string[] = [];
    hub.subscribe(KEY, (line) => after.push(line));
    expect(types(after).map((m) => m?.type)).toEqual(['config']);
  });

  it('a deleted application: its streams are told it is gone, and nothing of it is kept', () => {
    const hub = new ConfigHub();
    const open: string[] = [];
    hub.subscribe(KEY, (line) => open.push(line));
    hub.publish(KEY, rendered(), '{"keys":[]}');
    hub.remove(KEY);
    hub.remove(KEY); // reconciled again: told once
    expect(types(open)).toMatchObject([
      { type: 'config' },
      {
        type: 'waiting',
        reason: 'ApplicationNotFound',
        message: expect.stringContaining('no AccessApplication wiki in namespace corp'),
      },
    ]);
    expect(hub.knows(KEY)).toBe(false);
    expect(hub.get(KEY)).toBeUndefined();
  });

  it('a reader cuts a waiting message to 1,000 characters, and ignores one without its fields', () => {
    expect(
      readStreamLine(JSON.stringify({ type: 'waiting', reason: 'R'.repeat(5_000), message: 'm' })),
    ).toMatchObject({
      reason: 'R'.repeat(1_000),
    });
    expect(readStreamLine(JSON.stringify({ type: 'waiting', reason: 1 }))).toEqual({ type: 'other' });
  });
});
