import { describe, expect, it } from 'vitest';
import type { AccessApplication } from '../../contract/api/access-application.ts';
import { Selector } from '../../contract/api/access-policy.ts';
import { structuralSchema } from '../../contract/crds/structural-schema.ts';
import { generateSigningJwk } from '../../contract/keys.ts';
import {
  type RevocationView,
  readRevocation,
  revocationExpiry,
  revocationsFor,
  sessionLifetimeMs,
} from '../../contract/revocations.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { desiredStatus, sameStatus } from '../../operator/src/controller/conditions.ts';
import {
  PodsWithoutSidecar,
  protectedCondition,
} from '../../operator/src/controller/pods-without-sidecar.ts';
import { servicesPastSidecar } from '../../operator/src/controller/services-past-sidecar.ts';
import { type KeyTimes, planSigningKeys } from '../../operator/src/controller/signing-key-rotation.ts';
import { turnOf, WorkQueue } from '../../operator/src/controller/work-queue.ts';
import { compileRevocations } from '../../sidecar/src/auth/revocations.ts';

const HOUR = 3_600_000;
const schedule = { rotationMs: 100 * HOUR, overlapMs: 10 * HOUR, algorithm: 'ES256' as const };

describe('signing key rotation plan', () => {
  const a = generateSigningJwk('ES256');
  const b = generateSigningJwk('ES256');
  const times: KeyTimes = { [a.kid]: { created: 0, activated: 0 } };

  it.each([
    ['nothing before the publish point', [a], times, 89 * HOUR, undefined, [a.kid]],
    [
      'publishes a new key overlap before rotation, behind the signing key',
      [a],
      times,
      90 * HOUR,
      'published',
      [a.kid, 'new'],
    ],
    [
      'does not activate the pending key early',
      [a, b],
      { ...times, [b.kid]: { created: 90 * HOUR } },
      99 * HOUR,
      undefined,
      [a.kid, b.kid],
    ],
    [
      'activates the pending key when rotation is due',
      [a, b],
      { ...times, [b.kid]: { created: 90 * HOUR } },
      100 * HOUR,
      'activated',
      [b.kid, a.kid],
    ],
    [
      'keeps the old key during the overlap',
      [b, a],
      { [a.kid]: { created: 0, activated: 0 }, [b.kid]: { created: 90 * HOUR, activated: 100 * HOUR } },
      109 * HOUR,
      undefined,
      [b.kid, a.kid],
    ],
    [
      'retires the old key after the overlap',
      [b, a],
      { [a.kid]: { created: 0, activated: 0 }, [b.kid]: { created: 90 * HOUR, activated: 100 * HOUR } },
      110 * HOUR,
      'retired',
      [b.kid],
    ],
  ] as const)('%s', (_name, keys, keyTimes, now, change, order) => {
    const plan = planSigningKeys([...keys], keyTimes as KeyTimes, now, schedule);
    expect(plan.change).toBe(change);
    const kids = plan.signing.map((k) => k.kid);
    expect(kids.length).toBe(order.length);
    order.forEach((kid, i) => {
      if (kid !== 'new') expect(kids[i]).toBe(kid);
      else expect([a.kid, b.kid]).not.toContain(kids[i]);
    });
    for (const kid of kids) expect(plan.times[kid]).toBeDefined();
  });

  it('replaces a key of another algorithm at once', () => {
    const plan = planSigningKeys([a], times, 1, { ...schedule, algorithm: 'RS256' });
    expect(plan.change).toBe('algorithm');
    expect(plan.signing).toHaveLength(1);
    expect(plan.signing[0]?.alg).toBe('RS256');
  });

  it('walks a full cycle: always one signer, never more than 2 keys, each key published before it signs', () => {
    let keys = [a];
    let keyTimes: KeyTimes = times;
    const publishedAt = new Map<string, number>([[a.kid, 0]]);
    for (let now = 0; now <= 1_000 * HOUR; now += HOUR) {
      const plan = planSigningKeys(keys, keyTimes, now, schedule);
      for (const k of plan.signing) if (!publishedAt.has(k.kid)) publishedAt.set(k.kid, now);
      if (plan.change === 'activated')
        expect(now - (publishedAt.get(plan.signing[0]?.kid ?? '') ?? now)).toBeGreaterThanOrEqual(
          schedule.overlapMs,
        );
      keys = plan.signing;
      keyTimes = plan.times;
      expect(keys.length).toBeGreaterThanOrEqual(1);
      expect(keys.length).toBeLessThanOrEqual(2);
    }
    expect(publishedAt.size).toBe(11); // one rotation per 100 h over 1,000 h
  });
});

describe('status conditions', () => {
  const now = new Date('2026-01-01T00:00:00.123Z');
  const later = new Date('2026-01-02T00:00:00Z');

  it('keeps lastTransitionTime while the status stays, and moves it when the status flips', () => {
    const first = desiredStatus(undefined, 1, { status: 'True', reason: 'Ready', message: 'ok' }, now);
    expect(first.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'True',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    });
    const same = desiredStatus(first, 2, { status: 'True', reason: 'Ready', message: 'still ok' }, later);
    expect(same.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const flipped = desiredStatus(
      same,
      2,
      { status: 'False', reason: 'PolicyNotFound', message: 'x' },
      later,
    );
    expect(flipped.conditions?.[0]?.lastTransitionTime).toBe('2026-01-02T00:00:00Z');
  });

  it('carries the Ready condition only: another writer\u2019s condition (Protected) is left to it, not written back as this cache saw it', () => {
    const theirs = {
      type: 'Protected',
      status: 'False' as const,
      reason: 'PodsWithoutSidecar',
      message: 'stale',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const first = desiredStatus(undefined, 1, { status: 'True', reason: 'Ready', message: 'ok' }, now);
    const next = desiredStatus(
      { ...first, conditions: [...(first.conditions ?? []), theirs] },
      2,
      { status: 'True', reason: 'Ready', message: 'ok' },
      later,
    );
    expect(next.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });

  it.each([
    ['identical', {}, true],
    ['another generation', { generation: 2 }, false],
    ['another reason', { reason: 'Other' }, false],
    ['another message', { message: 'changed' }, false],
    ['another hash', { hash: 'b' }, false],
  ] as const)('sameStatus: %s → %s', (_name, change, expected) => {
    const base = desiredStatus(undefined, 1, { status: 'True', reason: 'Ready', message: 'ok' }, now, {
      configHash: 'a',
    });
    const next = desiredStatus(
      base,
      'generation' in change ? change.generation : 1,
      {
        status: 'True',
        reason: 'reason' in change ? change.reason : 'Ready',
        message: 'message' in change ? change.message : 'ok',
      },
      later,
      { configHash: 'hash' in change ? change.hash : 'a' },
    );
    expect(sameStatus(base, next)).toBe(expected);
  });
});

describe('work queue', () => {
  it('coalesces repeats, never runs one key twice at once, reruns a key changed while it ran, and retries failures', async () => {
    const runs: string[] = [];
    let running = 0;
    let maxRunning = 0;
    let failOnce = true;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const queue = new WorkQueue({ concurrency: 4, backoff: { baseMs: 1, maxMs: 5 } });
    queue.start({
      process: async (key) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs.push(key);
        if (key === 'a' && runs.filter((k) => k === 'a').length === 1) await gate;
        running--;
        if (key === 'b' && failOnce) {
          failOnce = false;
          throw new Error('transient');
        }
      },
    });
    queue.add('a');
    queue.add('a'); // while a runs: marks it dirty
    queue.add('a');
    queue.add('b');
    release();
    await queue.drained();
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(runs.filter((k) => k === 'b')).toHaveLength(2);
    expect(queue.depth).toBe(0);
    expect(maxRunning).toBeLessThanOrEqual(2);
  });

  it('namespaces take turns: a change in one is not held behind hundreds queued by another', async () => {
    const runs: string[] = [];
    const queue = new WorkQueue({ concurrency: 1 });
    queue.start({
      process: async (key) => {
        runs.push(key);
        await new Promise((r) => setImmediate(r));
      },
    });
    for (let i = 0; i < 300; i++) queue.add(`app:busy/app-${i}`);
    queue.add('policy:quiet/engineers');
    queue.add('app:quiet/wiki');
    queue.add('revocation:alice-x7k2p');
    await queue.drained();
    expect(runs).toHaveLength(303);
    // app-0 was running when the others came; then each namespace (and the cluster) in turn.
    expect(runs.slice(0, 6)).toEqual([
      'app:busy/app-0',
      'app:busy/app-1',
      'policy:quiet/engineers',
      'revocation:alice-x7k2p',
      'app:busy/app-2',
      'app:quiet/wiki',
    ]);
    // Within a namespace, in the order they came.
    expect(runs.filter((k) => k.startsWith('app:busy/'))).toEqual(
      Array.from({ length: 300 }, (_, i) => `app:busy/app-${i}`),
    );
  });

  it.each([
    ['app:corp/wiki', 'corp'],
    ['policy:corp/engineers', 'corp'],
    ['revocation:alice-x7k2p', ''],
    ['tls:gatehouse-system/gatehouse-serving', 'gatehouse-system'],
    ['webhook:', ''],
    ['deploy:shop/front', 'shop'],
  ])('the turn of %s is %j', (key, turn) => {
    expect(turnOf(key)).toBe(turn);
  });
});

describe('structural schema', () => {
  it('keeps CEL rules and turns const into a one-value enum; drops additionalProperties and property counts', () => {
    const schema = structuralSchema(Selector) as Record<string, unknown> & {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(schema['x-kubernetes-validations']).toHaveLength(1);
    expect(schema.additionalProperties).toBeUndefined();
    expect(schema.maxProperties).toBeUndefined();
    expect(schema.properties.everyone).toMatchObject({ type: 'boolean', enum: [true] });
  });
});

describe('revocations', () => {
  const app = (name: string, lifetime?: string, providers = true) =>
    ({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name, namespace: 'corp' },
      spec: {
        hosts: [`${name}.example.com`],
        upstream: { url: 'http://127.0.0.1:8080' },
        ...(providers
          ? {
              authentication: {
                externalUrl: `https://${name}.example.com`,
                identityProviders: [{ name: 'corp', issuer: 'https://login.example.com', clientId: name }],
                ...(lifetime ? { session: { absoluteLifetime: lifetime } } : {}),
              },
            }
          : {}),
      },
    }) as unknown as AccessApplication;
  const object = (spec: Record<string, unknown>, created = '2026-11-21T10:00:00Z') =>
    ({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessRevocation',
      metadata: { name: 'rev-1', creationTimestamp: created },
      spec,
    }) as KubeObject;
  const cutOff = Date.parse('2026-11-21T10:00:00Z') / 1000;

  it('reads the cut-off from the spec, else the creation time, and lower-cases the user', () => {
    expect(readRevocation(object({ user: 'Alice@Example.com' }))).toEqual({
      name: 'rev-1',
      user: 'alice@example.com',
      subject: null,
      provider: null,
      before: cutOff,
      reason: null,
      applications: null,
    });
    expect(readRevocation(object({ user: 'a@b.c', revokedBefore: '2026-11-21T09:00:00Z' }))?.before).toBe(
      cutOff - 3600,
    );
    expect(readRevocation(object({ user: 'not an email' }))).toBeUndefined();
    expect(readRevocation(object({ subject: 'svc-7', provider: 'corp' }))).toMatchObject({
      user: null,
      subject: 'svc-7',
      provider: 'corp',
    });
    expect(readRevocation(object({ user: 'a@b.c', subject: 'svc-7' }))).toBeUndefined();
    expect(readRevocation(object({}))).toBeUndefined();
    expect(readRevocation(object({ user: 'a@b.c', provider: 'corp' }))).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string, number, string[]]>([
    ['covers every application without a list', { user: 'a@b.c' }, 'corp/wiki', 0, ['rev-1']],
    ['covers only listed applications', { user: 'a@b.c', applications: ['corp/other'] }, 'corp/wiki', 0, []],
    ['stays while a session could live (12h default)', { user: 'a@b.c' }, 'corp/wiki', 11.9, ['rev-1']],
    ['drops out after the lifetime', { user: 'a@b.c' }, 'corp/wiki', 12, []],
  ])('%s', (_what, spec, key, hoursLater, names) => {
    const view = readRevocation(object(spec));
    const now = new Date((cutOff + hoursLater * 3600) * 1000);
    expect(
      revocationsFor(key, sessionLifetimeMs(app('wiki')), view ? [view] : [], now).map((r) => r.name),
    ).toEqual(names);
  });

  it('expires at the cut-off plus the longest session lifetime among covered applications', () => {
    const view = readRevocation(object({ user: 'a@b.c' })) as RevocationView;
    const apps = new Map([
      ['corp/wiki', sessionLifetimeMs(app('wiki', '2h'))],
      ['corp/grafana', sessionLifetimeMs(app('grafana', '30h'))],
      ['corp/public', sessionLifetimeMs(app('public', undefined, false))],
    ]);
    expect(revocationExpiry(view, apps).toISOString()).toBe('2026-11-22T16:00:00.000Z');
    const onlyPublic = readRevocation(
      object({ user: 'a@b.c', applications: ['corp/public'] }),
    ) as RevocationView;
    expect(revocationExpiry(onlyPublic, apps).getTime()).toBe(cutOff * 1000);
  });

  it('the sidecar ends sessions signed in at or before the cut-off, by email in any case or by subject', () => {
    const index = compileRevocations([
      { name: 'old', user: 'alice@example.com', subject: null, provider: null, before: 100, reason: null },
      { name: 'new', user: 'alice@example.com', subject: null, provider: null, before: 200, reason: 'INC-1' },
      { name: 'bot', user: null, subject: 'svc-7', provider: 'corp', before: 300, reason: null },
      { name: 'any', user: null, subject: 'svc-9', provider: null, before: 300, reason: null },
    ]);
    const session = (email: string | null, sub: string, idp: string, iat: number) => ({
      sid: 'session-of-a-test',
      email,
      sub,
      idp,
      iat,
    });
    expect(index.find(session('Alice@Example.com', 'a', 'corp', 200))?.name).toBe('new');
    expect(index.find(session('alice@example.com', 'a', 'corp', 201))).toBeUndefined();
    expect(index.find(session(null, 'a', 'corp', 1))).toBeUndefined();
    expect(index.find(session(null, 'svc-7', 'corp', 300))?.name).toBe('bot');
    expect(index.find(session(null, 'svc-7', 'google', 300))).toBeUndefined();
    expect(index.find(session(null, 'svc-9', 'google', 300))?.name).toBe('any');
    const before = compileRevocations([
      { name: 'old', user: 'x@y.z', subject: null, provider: null, before: 1, reason: null },
    ]);
    // 'old' there was another revocation under the same name (edited since): it is new too.
    expect(index.added(before).map((r) => r.name)).toEqual(['old', 'new', 'bot', 'any']);
  });

  it('the sidecar tells as arrived the revocations new by name or edited under their name, not those it had (equal copies included)', () => {
    const ada = {
      name: 'ada',
      user: 'ada@example.com',
      subject: null,
      provider: null,
      before: 100,
      reason: 'INC-1',
    };
    const bot = { name: 'bot', user: null, subject: 'svc-7', provider: 'corp', before: 300, reason: null };
    const before = compileRevocations([ada, bot]);
    const next = compileRevocations([
      { ...ada }, // the same, as the next config's copy
      { ...bot, before: 400 }, // edited: its cut-off moved
      { ...bot, name: 'bot-2' },
    ]);
    expect(next.added(before).map((r) => [r.name, r.before])).toEqual([
      ['bot', 400],
      ['bot-2', 300],
    ]);
    expect(next.added(next)).toEqual([]);
    expect(next.named('bot')?.before).toBe(400);
  });

  it('the sidecar ends one session by its id (a sign-out), and the sessions of a provider session (a back-channel logout)', () => {
    const index = compileRevocations([
      {
        name: 'out',
        user: null,
        subject: null,
        provider: null,
        session: 'S1',
        before: 100,
        reason: 'signed out',
      },
      {
        name: 'bcl',
        user: null,
        subject: null,
        provider: 'corp',
        providerSession: 'P1',
        before: 500,
        reason: null,
      },
    ]);
    const session = (sid: string, idp: string, iat: number, psid?: string) => ({
      sid,
      email: 'ada@example.com',
      sub: 'ada',
      idp,
      iat,
      ...(psid ? { psid } : {}),
    });
    expect(index.find(session('S1', 'corp', 400))?.name).toBe('out'); // the session id is enough
    expect(index.find(session('S2', 'corp', 50))).toBeUndefined();
    expect(index.find(session('S3', 'corp', 400, 'P1'))?.name).toBe('bcl');
    expect(index.find(session('S4', 'google', 400, 'P1'))).toBeUndefined(); // another provider's P1
    expect(index.find(session('S5', 'corp', 600, 'P1'))).toBeUndefined(); // signed in after the logout
    expect(index.find(session('S6', 'corp', 400))).toBeUndefined(); // no provider session known
  });
});

describe('pods without the sidecar', () => {
  const pod = (
    name: string,
    options: { app?: string; sidecar?: boolean; phase?: string; namespace?: string } = {},
  ): KubeObject =>
    ({
      metadata: {
        name,
        namespace: options.namespace ?? 'corp',
        labels: options.app === undefined ? {} : { 'gatehouse.dev/application': options.app },
      },
      spec: {
        initContainers: options.sidecar ? [{ name: 'gatehouse' }] : [],
        containers: [{ name: 'app' }],
      },
      status: { phase: options.phase ?? 'Running' },
    }) as KubeObject;

  it('counts the labelled pods that run without the sidecar, as they change, and says which applications changed', () => {
    const pods = new PodsWithoutSidecar();
    expect(pods.podChanged('corp/a', pod('a', { app: 'wiki', sidecar: true }))).toEqual([]);
    expect(pods.podChanged('corp/b', pod('b', { app: 'wiki' }))).toEqual(['corp/wiki']);
    expect(pods.podChanged('corp/b', pod('b', { app: 'wiki' }))).toEqual([]);
    expect(pods.podChanged('corp/c', pod('c', { app: 'wiki', phase: 'Pending' }))).toEqual(['corp/wiki']);
    expect(pods.podChanged('corp/d', pod('d', { app: 'wiki', phase: 'Succeeded' }))).toEqual([]);
    expect(pods.podChanged('corp/e', pod('e'))).toEqual([]); // no application label
    expect(pods.of('corp/wiki')).toEqual(['corp/b', 'corp/c']);
    // Relabelled to another application: both change.
    expect(pods.podChanged('corp/c', pod('c', { app: 'shop' }))).toEqual(['corp/wiki', 'corp/shop']);
    // Done, then deleted.
    expect(pods.podChanged('corp/c', pod('c', { app: 'shop', phase: 'Failed' }))).toEqual(['corp/shop']);
    expect(pods.podChanged('corp/b', undefined)).toEqual(['corp/wiki']);
    expect(pods.of('corp/wiki')).toEqual([]);
    expect([...pods.counts()]).toEqual([]);
    pods.podChanged('other/x', pod('x', { app: 'wiki', namespace: 'other' }));
    expect([...pods.counts()]).toEqual([['other/wiki', 1]]);
  });

  it.each([
    [
      [],
      'True',
      'SidecarsInjected',
      /^no pod of the application runs without the Gatehouse sidecar, and no Service reaches it past one$/,
    ],
    [
      ['corp/b'],
      'False',
      'PodsWithoutSidecar',
      /^1 pod of the application runs without the Gatehouse sidecar, so its Service port reaches the application with no sign-in, policy or log line: corp\/b\. The webhook did not inject it .*; delete it to have it made again with the sidecar\.$/,
    ],
    [
      Array.from({ length: 12 }, (_, i) => `corp/p${String(i).padStart(2, '0')}`),
      'False',
      'PodsWithoutSidecar',
      /^12 pods of the application run without the Gatehouse sidecar, so their Service port .*: corp\/p00, .*, corp\/p09 and 2 more\. .*delete them to have them made again/,
    ],
  ] as const)('the Protected condition of %j', (pods, status, reason, message) => {
    const condition = protectedCondition(pods);
    expect(condition).toMatchObject({ type: 'Protected', status, reason });
    expect(condition.message).toMatch(message);
  });
});

describe('Service ports past the sidecar', () => {
  const injected = (
    name: string,
    labels: Record<string, string>,
    upstream = '127.0.0.1:8080',
  ): KubeObject => ({
    metadata: { name, namespace: 'corp', labels: { 'gatehouse.dev/application': 'wiki', ...labels } },
    spec: {
      initContainers: [{ name: 'gatehouse', args: ['sidecar', '--upstream-address', upstream] }],
      containers: [
        {
          name: 'wiki',
          ports: [
            { name: 'app-http', containerPort: 8080 },
            { name: 'metrics', containerPort: 9100 },
          ],
        },
      ],
    },
  });
  const service = (
    name: string,
    selector: Record<string, string> | undefined,
    ports: object[],
  ): KubeObject => ({
    metadata: { name, namespace: 'corp' },
    spec: { ...(selector ? { selector } : {}), ports },
  });
  const pods = [injected('wiki-1', { app: 'wiki' })];

  it.each([
    ['the sidecar\u2019s name', service('s', { app: 'wiki' }, [{ port: 80, targetPort: 'http' }]), []],
    ['the app\u2019s number', service('s', { app: 'wiki' }, [{ port: 80, targetPort: 8080 }]), ['s:80']],
    [
      'no targetPort, the port the app\u2019s number',
      service('s', { app: 'wiki' }, [{ port: 8080 }]),
      ['s:8080'],
    ],
    [
      'the app\u2019s renamed port',
      service('s', { app: 'wiki' }, [{ port: 80, targetPort: 'app-http' }]),
      ['s:80'],
    ],
    ['another port of the app', service('s', { app: 'wiki' }, [{ port: 9100, targetPort: 'metrics' }]), []],
    ['a selector that picks other pods', service('s', { app: 'blog' }, [{ port: 80, targetPort: 8080 }]), []],
    ['no selector (endpoints by hand)', service('s', undefined, [{ port: 80, targetPort: 8080 }]), []],
  ] as const)('a Service that targets %s', (_what, svc, expected) => {
    expect(servicesPastSidecar('wiki', pods, [svc])).toEqual(expected);
  });

  it('reads the port from the sidecar\u2019s --upstream-address; a pod without the sidecar or of another application adds none', () => {
    const svc = service('s', { app: 'wiki' }, [{ port: 80, targetPort: 3000 }]);
    expect(servicesPastSidecar('wiki', [injected('w', { app: 'wiki' }, '127.0.0.1:3000')], [svc])).toEqual([
      's:80',
    ]);
    const plain: KubeObject = {
      metadata: {
        name: 'p',
        namespace: 'corp',
        labels: { 'gatehouse.dev/application': 'wiki', app: 'wiki' },
      },
      spec: { containers: [{ name: 'wiki', ports: [{ name: 'http', containerPort: 3000 }] }] },
    };
    expect(servicesPastSidecar('wiki', [plain], [svc])).toEqual([]);
    expect(servicesPastSidecar('blog', [injected('w', { app: 'wiki' }, '127.0.0.1:3000')], [svc])).toEqual(
      [],
    );
  });

  it('a Service without a selector whose endpoints, written by hand, are a pod of the application at its own port', () => {
    const pod = {
      ...injected('wiki-1', { app: 'wiki' }),
      status: { podIPs: [{ ip: '10.0.0.7' }, { ip: 'fd00::7' }] },
    };
    const manual = service('manual', undefined, [
      { name: 'web', port: 80 },
      { name: 'metrics', port: 9100 },
    ]);
    const slice = (
      serviceName: string,
      addresses: string[],
      ports: { name?: string; port: number }[],
      name = `${serviceName}-x`,
    ): KubeObject =>
      ({
        metadata: { name, namespace: 'corp', labels: { 'kubernetes.io/service-name': serviceName } },
        endpoints: [{ addresses }],
        ports,
      }) as unknown as KubeObject;
    const past = (slices: KubeObject[], services = [manual]) =>
      servicesPastSidecar('wiki', [pod], services, slices);
    // Its own port (8080) at the pod's address, IPv4 or IPv6: named by the Service's port of that name.
    expect(past([slice('manual', ['10.0.0.7'], [{ name: 'web', port: 8080 }])])).toEqual(['manual:80']);
    expect(past([slice('manual', ['fd00::7'], [{ name: 'web', port: 8080 }])])).toEqual(['manual:80']);
    // The sidecar's port, another port of the pod, or another address: none.
    expect(past([slice('manual', ['10.0.0.7'], [{ name: 'web', port: 4180 }])])).toEqual([]);
    expect(past([slice('manual', ['10.0.0.7'], [{ name: 'metrics', port: 9100 }])])).toEqual([]);
    expect(past([slice('manual', ['10.0.0.8'], [{ name: 'web', port: 8080 }])])).toEqual([]);
    // A slice of a Service that has a selector (checked by its selector), or of none that exists.
    const selected = service('selected', { app: 'blog' }, [{ name: 'web', port: 80 }]);
    expect(
      past([slice('selected', ['10.0.0.7'], [{ name: 'web', port: 8080 }])], [manual, selected]),
    ).toEqual([]);
    expect(past([slice('gone', ['10.0.0.7'], [{ name: 'web', port: 8080 }])])).toEqual([]);
    // The operator's cache hands the Services over as a one-time iterable.
    const once = (function* () {
      yield manual;
    })();
    expect(
      servicesPastSidecar('wiki', [pod], once, [
        slice('manual', ['10.0.0.7'], [{ name: 'web', port: 8080 }]),
      ]),
    ).toEqual(['manual:80']);
    // A slice port without a Service port of its name is named by its own number.
    expect(past([slice('manual', ['10.0.0.7'], [{ name: 'other', port: 8080 }])])).toEqual(['manual:8080']);
  });

  it('the Protected condition names them, with the pods without the sidecar when there are both', () => {
    expect(protectedCondition([], ['wiki:80'])).toMatchObject({
      status: 'False',
      reason: 'ServicePastSidecar',
      message: expect.stringMatching(
        /^Service port wiki:80 targets the application\u2019s own port, past the sidecar/,
      ),
    });
    const both = protectedCondition(['corp/p'], ['wiki:80', 'wiki:81']);
    expect(both.reason).toBe('PodsWithoutSidecar');
    expect(both.message).toMatch(/corp\/p\. .* Service ports wiki:80, wiki:81 target the application/);
  });
});
