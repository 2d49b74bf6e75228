import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { stringify } from 'yaml';
import { ACCESS_POLICIES } from '../../contract/api/resource-types.ts';
import type { ApplicationKeys } from '../../contract/config/auth-config.ts';
import { generateApplicationKeys, keysSecretName, keysToSecretData } from '../../contract/keys.ts';
import type { KubeClient } from '../../lib/kube/kube-client.ts';
import { SECRETS } from '../../lib/kube/resource-types.ts';
import { startUpstream, type TestUpstream } from './upstream.ts';

/**
 * The application the session tests protect: an upstream that records paths and echoes WebSocket
 * messages. Under `/events` it streams an event every 100 ms for as long as the request lasts;
 * under `/poll` it never answers (a long poll).
 */
export async function startEchoUpstream(paths: string[]): Promise<TestUpstream> {
  const upstream = await startUpstream((req, res) => {
    const path = req.url ?? '';
    paths.push(path);
    if (path.startsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let n = 0;
      const tick = setInterval(() => res.write(`data: ${n++}\n\n`), 100);
      res.once('close', () => clearInterval(tick));
      return;
    }
    if (path.startsWith('/poll')) return;
    res.end('wiki page');
  });
  const wss = new WebSocketServer({ server: upstream.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  return upstream;
}

/** The policy that lets alice (group engineering) in. */
export const ENGINEERS_POLICY = { decision: 'allow', include: [{ groups: ['engineering'] }] } as const;

/** The provider client secret, as the Secret `idp` holds it. */
export const IDP_SECRET = { 'client-secret': 'wiki-secret' } as const;

/** Creates what the wiki needs in a namespace before the application: the provider secret and the engineers policy. */
export async function applyWikiPrerequisites(admin: KubeClient, namespace: string): Promise<void> {
  await admin.create(SECRETS, namespace, { metadata: { name: 'idp', namespace }, stringData: IDP_SECRET });
  await admin.apply(ACCESS_POLICIES, { metadata: { name: 'engineers', namespace }, spec: ENGINEERS_POLICY });
}

/** The spec of the `wiki` AccessApplication: signed-in users of the dev provider, one-hour sessions. */
export function wikiSpec(options: {
  readonly hosts: readonly string[];
  readonly upstreamUrl: string;
  readonly externalUrl: string;
  readonly issuer: string;
  readonly policies?: readonly string[];
  readonly absoluteLifetime?: string;
}): Record<string, unknown> {
  return {
    hosts: [...options.hosts],
    upstream: { url: options.upstreamUrl },
    policies: (options.policies ?? ['engineers']).map((name) => ({ name })),
    authentication: {
      externalUrl: options.externalUrl,
      identityProviders: [
        {
          name: 'dev',
          issuer: options.issuer,
          clientId: 'wiki',
          clientSecretRef: { name: 'idp', key: 'client-secret' },
          scopes: ['openid', 'email', 'groups'],
        },
      ],
      session: { absoluteLifetime: options.absoluteLifetime ?? '1h' },
    },
  };
}

/**
 * A config directory for a standalone `wiki`: the application (wikiSpec), the engineers policy,
 * the provider secret and the application's keys (one set for every replica that reads the
 * directory: a cookie sealed by one is read by the others, and after a restart). Its path.
 */
export function writeStandaloneWiki(
  spec: Parameters<typeof wikiSpec>[0],
  keys: ApplicationKeys = generateApplicationKeys('ES256'),
): string {
  const configDir = mkdtempSync(join(tmpdir(), 'gatehouse-wiki-'));
  const documents = [
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name: 'wiki' },
      spec: wikiSpec(spec),
    },
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'engineers' },
      spec: ENGINEERS_POLICY,
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'idp' }, stringData: IDP_SECRET },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keysSecretName('wiki') },
      stringData: keysToSecretData(keys),
    },
  ];
  writeFileSync(join(configDir, 'wiki.yaml'), documents.map((d) => stringify(d)).join('---\n'));
  return configDir;
}
