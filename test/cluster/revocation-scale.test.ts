import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_APPLICATIONS,
  ACCESS_POLICIES,
  ACCESS_REVOCATIONS,
} from '../../contract/api/resource-types.ts';
import {
  ACCEPTS_REVOCATION_CHANGES,
  readStreamLine,
  STREAM_ACCEPTS_HEADER,
} from '../../contract/config-stream.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { SECRETS } from '../../lib/kube/resource-types.ts';
import { eventually, type OperatorCluster, startOperatorCluster } from '../helpers/operator-cluster.ts';
import { wikiSpec } from '../helpers/wiki-app.ts';

// A revocation must reach an application's sidecars within a second however many applications the
// cluster holds. Each one it covers is rendered again, one after another, behind whatever else
// is queued: at about 5 ms a render (20 policies), the last of 500 was sent it after 2.5 to 2.9 s.

const TENANT = 'tenant';
const VICTIM = 'victim';
const APPLICATIONS = 300;
const POLICIES = 10;
const ROUNDS = 5;
const ISSUER = 'https://idp.example.com';
const policyNames = Array.from({ length: POLICIES }, (_, i) => `policy-${i}`);

let env: OperatorCluster;
let operatorCa: Agent;
const abort = new AbortController();
/** Every line the victim's sidecar streams have received: one reading whole lists, one changes. */
const received: Record<string, unknown>[] = [];
const changes: Record<string, unknown>[] = [];

const application = (namespace: string, name: string): KubeObject => ({
  metadata: { name, namespace },
  spec: wikiSpec({
    hosts: [`${name}.${namespace}.example.com`],
    upstreamUrl: 'http://127.0.0.1:9',
    externalUrl: `https://${name}.${namespace}.example.com`,
    issuer: ISSUER,
    policies: policyNames,
  }),
});

/**
 * Opens the config stream a sidecar of victim/wiki reads, as a sidecar of before 2026-12-04 did
 * (whole revocation lists) or as one now does (it reads revocations-changed), and keeps every line.
 */
async function openVictimStream(
  token: string,
  into: Record<string, unknown>[],
  readsChanges: boolean,
): Promise<void> {
  const response = await request(`https://127.0.0.1:${env.ports.deliveryPort}/v1/config`, {
    dispatcher: operatorCa,
    signal: abort.signal,
    headers: {
      authorization: `Bearer ${token}`,
      ...(readsChanges ? { [STREAM_ACCEPTS_HEADER]: ACCEPTS_REVOCATION_CHANGES } : {}),
    },
  });
  expect(response.statusCode).toBe(200);
  void (async () => {
    let text = '';
    try {
      for await (const chunk of response.body) {
        text += chunk.toString();
        for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
          const message = readStreamLine(text.slice(0, end));
          if (message) into.push(message as unknown as Record<string, unknown>);
          text = text.slice(end + 1);
        }
      }
    } catch {
      // aborted at the end
    }
  })();
}

beforeAll(async () => {
  env = await startOperatorCluster({ namespaces: [TENANT, VICTIM] });
  operatorCa = new Agent({ connect: { ca: env.tls.cert } });
  for (const namespace of [TENANT, VICTIM]) {
    await env.admin.create(SECRETS, namespace, {
      metadata: { name: 'idp', namespace },
      stringData: { 'client-secret': 'secret' },
    });
    for (const name of policyNames)
      await env.admin.apply(ACCESS_POLICIES, {
        metadata: { name, namespace },
        spec: {
          decision: 'allow',
          include: [{ groups: [`group-${name}`] }],
          require: [{ paths: [`/${name}/**`] }],
        },
      });
  }
  const names = Array.from({ length: APPLICATIONS }, (_, i) => `app-${i}`);
  for (let i = 0; i < names.length; i += 25)
    await Promise.all(
      names.slice(i, i + 25).map((name) => env.admin.apply(ACCESS_APPLICATIONS, application(TENANT, name))),
    );
  await env.admin.apply(ACCESS_APPLICATIONS, application(VICTIM, 'wiki'));
  await eventually(
    async () => env.operator.hub.size === APPLICATIONS + 1 && env.operator.queueDepth === 0,
    60_000,
    'every application served',
  );
  const tokens = await env.applicationPods(VICTIM, 'wiki', 'wiki', ['wiki-1']);
  const token = readFileSync(tokens['wiki-1'] as string, 'utf8').trim();
  await openVictimStream(token, received, false);
  await openVictimStream(token, changes, true);
  await eventually(
    async () => [received, changes].every((lines) => lines.some((line) => line.type === 'config')),
    10_000,
    'the first configs',
  );
}, 180_000);

afterAll(async () => {
  abort.abort();
  await operatorCa?.close();
  await env?.stop();
});

describe(`a revocation among ${APPLICATIONS + 1} applications of ${POLICIES} policies each`, () => {
  it(`reaches a sidecar's stream within 500 ms, ${ROUNDS} times, ahead of the renders it queues, and once`, async () => {
    const waits: number[] = [];
    const firstSent: unknown[] = [];
    /** How many lines carried each revocation's name when it was first sent (later lines carry all). */
    const sentTimes: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const created = await env.admin.create<KubeObject>(ACCESS_REVOCATIONS, undefined, {
        metadata: { generateName: 'alice-' } as unknown as KubeObject['metadata'],
        spec: { user: `alice-${round}@example.com`, reason: `stolen laptop ${round}` },
      });
      const stored = performance.now();
      const name = created.metadata.name;
      const carries = (line: Record<string, unknown>): boolean => JSON.stringify(line).includes(`"${name}"`);
      await eventually(async () => received.some(carries), 10_000, `${name} streamed`);
      waits.push(performance.now() - stored);
      firstSent.push(received.find(carries)?.type);
      // The render follows: the served config carries it (what a stream opened now gets), and the
      // sidecar, which runs that config already, is not sent it a second time.
      await eventually(
        async () =>
          env.operator.hub.get(`${VICTIM}/wiki`)?.config.revocations.some((r) => r.name === name) === true,
        60_000,
        `${name} rendered into the config`,
      );
      await eventually(async () => env.operator.queueDepth === 0, 60_000, 'the renders done');
      sentTimes.push(received.filter(carries).length);
      // The stream that reads changes got this one alone, not the list of those before it.
      await eventually(async () => changes.some(carries), 10_000, `${name} streamed as a change`);
      const change = changes.find(carries);
      expect(change).toEqual({
        type: 'revocations-changed',
        added: [expect.objectContaining({ name })],
        removed: [],
        generation: expect.any(String),
      });
    }
    expect(sentTimes).toEqual(Array(ROUNDS).fill(1));
    expect(Math.max(...waits)).toBeLessThan(500);
    // Sent on its own, before the victim's turn to be rendered came.
    expect(firstSent).toEqual(Array(ROUNDS).fill('revocations'));
  }, 300_000);
});
