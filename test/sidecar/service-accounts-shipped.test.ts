import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applicationYaml,
  policyYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// ServiceAccount callers of the sidecar as it ships (the bundle in dist/): its keys are fetched
// with undici's fetch, loaded with the first fetch. In the bundle that load gave the package as a
// default export only, the fetch was undefined, and every ServiceAccount token was refused 401
// (`issuer_keys_unavailable`); the tests of the sources never saw it.
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'gatehouse:reports';
const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
let upstream: TestUpstream;
let keys: Server;
let sidecar: SidecarProcess;
const keyRequests: (string | undefined)[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  keys = createServer((req, res) => {
    keyRequests.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ keys: [{ ...signer.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256' }] }),
    );
  });
  await new Promise<void>((resolve) => keys.listen(0, '127.0.0.1', resolve));
  const spec = {
    hosts: ['127.0.0.1'],
    upstream: { url: upstream.url },
    policies: [{ name: 'jobs' }],
    authentication: {
      serviceAccounts: {
        issuer: ISSUER,
        jwksUrl: `http://127.0.0.1:${(keys.address() as AddressInfo).port}/openid/v1/jwks`,
        audiences: [AUDIENCE],
        bearerTokenFile: '',
      },
    },
  };
  // The sidecar shows the API server its own token when it fetches the keys.
  const tokenDir = mkdtempSync(join(tmpdir(), 'gatehouse-sa-token-'));
  writeFileSync(join(tokenDir, 'token'), 'the-sidecars-own-token\n');
  spec.authentication.serviceAccounts.bearerTokenFile = join(tokenDir, 'token');
  const dir = writeConfigDir(
    `${applicationYaml(spec, 'reports')}---\n${policyYaml('jobs', {
      decision: 'service-auth',
      include: [{ serviceAccounts: [{ namespace: 'jobs', name: 'reporter' }] }],
    })}`,
  );
  sidecar = await startSidecarProcess(dir);
}, 30_000);

afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
  keys?.close();
});

const token = (sub: string) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + 600)
    .sign(signer.privateKey);
};

describe('ServiceAccount callers of the shipped sidecar', () => {
  it('admits a ServiceAccount token checked against the cluster keys, fetched with the bearer token', async () => {
    const answer = await request(`http://127.0.0.1:${sidecar.port}/api/report`, {
      headers: { authorization: `Bearer ${await token('system:serviceaccount:jobs:reporter')}` },
    });
    await answer.body.dump();
    expect(answer.statusCode).toBe(200);
    expect(upstream.seen.at(-1)?.headers['x-gatehouse-user']).toBe('system:serviceaccount:jobs:reporter');
    expect(keyRequests).toEqual(['Bearer the-sidecars-own-token']);
    // Another ServiceAccount: verified the same way, refused by the policy.
    const other = await request(`http://127.0.0.1:${sidecar.port}/api/report`, {
      headers: { authorization: `Bearer ${await token('system:serviceaccount:jobs:intruder')}` },
    });
    await other.body.dump();
    expect(other.statusCode).toBe(403);
  });
});
