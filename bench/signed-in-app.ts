import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ApplicationKeys } from '../contract/config/auth-config.ts';
import { generateApplicationKeys, keysToSecretData } from '../contract/keys.ts';
import { createSealer } from '../sidecar/src/auth/sealed.ts';
import type { Session } from '../sidecar/src/auth/session.ts';

/** An AccessPolicy document of a benchmark's standalone config. */
export function benchPolicy(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name }, spec };
}

/** The Secret document holding an application's keys, as the operator keeps them. */
export function benchKeysSecret(app: string, keys: ApplicationKeys): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${app}-gatehouse-keys` },
    stringData: keysToSecretData(keys),
  };
}

/**
 * A standalone application for benchmarks with signed-in users: `/public/**` is open to
 * everyone (bypass), the rest needs the `engineering` group. Its keys are in the YAML (a Secret
 * document), so the benchmark can seal a session cookie exactly as the sign-in callback would,
 * without an identity provider in the measured path.
 */
export async function writeSignedInApp(
  upstreamUrl: string,
  origin: string,
  name = 'bench',
  teams = 0,
): Promise<{ dir: string; cookie: string }> {
  const keys = generateApplicationKeys('ES256');
  // Team policies: each allows one group on its own paths, so none matches the benchmark's user.
  const teamNames = Array.from({ length: teams }, (_, i) => `team-${i}`);
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${name}-`));
  const documents = [
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name },
      spec: {
        hosts: ['127.0.0.1'],
        upstream: { url: upstreamUrl },
        policies: [{ name: 'public' }, { name: 'engineers' }, ...teamNames.map((n) => ({ name: n }))],
        authentication: {
          externalUrl: origin,
          // Never contacted: the benchmark's session is minted below, as a sign-in would.
          identityProviders: [{ name: 'corp', issuer: 'http://127.0.0.1:9/', clientId: 'bench' }],
        },
      },
    },
    benchPolicy('public', { decision: 'bypass', include: [{ paths: ['/public/**'] }] }),
    benchPolicy('engineers', { decision: 'allow', include: [{ groups: ['engineering'] }] }),
    ...teamNames.map((n) =>
      benchPolicy(n, { decision: 'allow', include: [{ groups: [n] }], require: [{ paths: [`/${n}/**`] }] }),
    ),
    benchKeysSecret(name, keys),
  ];
  writeFileSync(join(dir, 'app.yaml'), documents.map((d) => stringify(d)).join('---\n'));
  const now = Math.floor(Date.now() / 1000);
  const session: Session = {
    v: 1,
    sid: `${name}-session`,
    sub: 'alice',
    email: 'alice@example.com',
    groups: ['engineering', 'admins'],
    idp: 'corp',
    claims: { name: 'Alice' },
    iat: now,
    exp: now + 3600 * 8,
    seen: now,
    refreshAt: null,
    refreshToken: null,
    idToken: null,
  };
  return { dir, cookie: `_gatehouse=${await createSealer(keys.cookie).seal('session', session)}` };
}
