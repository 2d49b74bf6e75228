import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  ACCESS_APPLICATIONS,
  ACCESS_POLICIES,
  ACCESS_REVOCATIONS,
} from '../../contract/api/resource-types.ts';
import { SECRETS } from '../../lib/kube/resource-types.ts';
import { freePort } from '../helpers/control-plane.ts';
import { eventually, type OperatorCluster, startOperatorCluster } from '../helpers/operator-cluster.ts';
import {
  providerLogoutRounds,
  type Replicas,
  refusedLogoutTokens,
  signOutRounds,
} from '../helpers/session-end-scenarios.ts';
import { type BackchannelProvider, startBackchannelProvider } from '../helpers/session-ends.ts';
import { type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// Sessions end everywhere, in a cluster: three sidecar processes of one application, each with
// its own pod-bound token, a real API server and operator, and oidc-provider with its own
// back-channel logout. Sign-outs and back-channel logouts travel as AccessRevocations.

const NS = 'ends';
const ROUNDS = 20;
const PODS = ['wiki-1', 'wiki-2', 'wiki-3'] as const;

let env: OperatorCluster;
let idp: BackchannelProvider;
let upstream: TestUpstream;
const sidecars: SidecarProcess[] = [];
const upstreamPaths: string[] = [];
let replicas: Replicas;

beforeAll(async () => {
  env = await startOperatorCluster({ namespaces: [NS] });
  const ports = [await freePort(), await freePort(), await freePort()];
  const origins = ports.map((p) => `http://127.0.0.1:${p}`);
  upstream = await startUpstream((req, res) => {
    upstreamPaths.push(req.url ?? '');
    res.end('wiki page');
  });
  const wss = new WebSocketServer({ server: upstream.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  idp = await startBackchannelProvider(origins[0] as string);
  await env.admin.create(SECRETS, NS, {
    metadata: { name: 'idp', namespace: NS },
    stringData: { 'client-secret': 'wiki-secret' },
  });
  await env.admin.apply(ACCESS_POLICIES, {
    metadata: { name: 'engineers', namespace: NS },
    spec: { decision: 'allow', include: [{ groups: ['engineering'] }] },
  });
  await env.admin.apply(ACCESS_APPLICATIONS, {
    metadata: { name: 'wiki', namespace: NS },
    spec: {
      hosts: ports.map((p) => `127.0.0.1:${p}`),
      upstream: { url: upstream.url },
      policies: [{ name: 'engineers' }],
      authentication: {
        externalUrl: origins[0],
        identityProviders: [
          {
            name: 'dev',
            issuer: idp.provider.issuer,
            clientId: 'wiki',
            clientSecretRef: { name: 'idp', key: 'client-secret' },
            scopes: ['openid', 'email', 'groups'],
          },
        ],
        session: { absoluteLifetime: '1h' },
      },
    },
  });
  const tokens = await env.applicationPods(NS, 'wiki', 'wiki', PODS);
  await eventually(
    async () => (await env.ready(ACCESS_APPLICATIONS, NS, 'wiki'))?.status === 'True',
    10_000,
    'wiki Ready',
  );
  for (const [i, pod] of PODS.entries())
    sidecars.push(
      await startSidecarProcess({ sourceArgs: env.sidecarSourceArgs(tokens[pod] as string) }, [
        '--listen',
        `127.0.0.1:${ports[i]}`,
      ]),
    );
  replicas = { origins, sidecars, upstreamPaths, idp };
}, 120_000);

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await idp?.close();
  await upstream?.close();
  await env?.stop();
});

describe('sessions end everywhere, in a cluster', () => {
  it(`a sign-out on replica A ends the session on B and C within a second and closes its WebSocket (${ROUNDS} rounds)`, async () => {
    await signOutRounds(replicas, ROUNDS, 'cluster sign-out');
    // Each sign-out became an AccessRevocation of that one session, for this application only.
    const revocations = (await env.admin.list(ACCESS_REVOCATIONS)).items;
    const ends = revocations.filter((o) => (o.spec as { session?: string }).session !== undefined);
    expect(ends.length).toBeGreaterThanOrEqual(ROUNDS);
    expect(ends[0]?.spec).toMatchObject({ applications: [`${NS}/wiki`], reason: 'signed out' });
    const logged = sidecars[0]?.lines.filter((l) => l.type === 'logout') ?? [];
    expect(logged.length).toBeGreaterThanOrEqual(ROUNDS);
  }, 180_000);

  it(`oidc-provider's own back-channel logout ends the session in all three replicas within a second (${ROUNDS} rounds)`, async () => {
    await providerLogoutRounds(replicas, ROUNDS, 'cluster back-channel');
  }, 180_000);

  it('refuses forged, misaddressed, replayed, stale and malformed logout tokens, each with its reason, ending nothing', async () => {
    await refusedLogoutTokens(replicas);
  }, 60_000);
});
