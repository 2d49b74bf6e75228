// The sidecar's code cache, made while the image is built (bin/warm-compile-cache.ts): a sidecar
// runs from dist/bin/sidecar-script.js as the webhook injects it, its config from an operator's
// stream over HTTPS, serves each kind of request a sidecar serves in its first minutes (anonymous,
// signed in, with a body, denied, health checks and a metrics scrape), then stops and writes V8's
// code cache of its script: what it compiled, the start and the request path included
// (bin/code-cache-sidecar.ts). Everything listens on loopback and ends with the warm-up.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AccessApplication } from '../contract/api/access-application.ts';
import type { AccessPolicy } from '../contract/api/access-policy.ts';
import { renderSidecarConfig } from '../contract/config/render.ts';
import { STREAM_MEDIA_TYPE, streamLine } from '../contract/config-stream.ts';
import { generateApplicationKeys } from '../contract/keys.ts';
import { createCertificateAuthority, createServingCertificate } from '../operator/src/tls/certificates.ts';
import { createSealer } from '../sidecar/src/auth/sealed.ts';
import {
  readSidecarScript,
  SIDECAR_SCRIPT_NAME,
  sidecarCodeCacheFile,
  sidecarScriptKey,
} from './sidecar-script.ts';

/** How long the whole warm-up may take before it gives up (a build machine may be slow). */
const WARM_UP_TIMEOUT_MS = 60_000;

/** Rounds of the requests below: V8 compiles a function at its first call; a few more calls settle what varies. */
const ROUNDS = 3;

/** The file written and its size. */
export interface SidecarCodeCache {
  readonly file: string;
  readonly bytes: number;
}

/**
 * Runs the warm-up sidecar of `bin` (dist/bin) and writes its code cache into `cacheDirectory`.
 * Throws with what went wrong: a sidecar that does not start, a request answered otherwise than
 * expected, no cache written.
 */
export async function warmSidecarCodeCache(bin: string, cacheDirectory: string): Promise<SidecarCodeCache> {
  const script = join(bin, SIDECAR_SCRIPT_NAME);
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-warm-up-'));
  const servers: Server[] = [];
  let child: ChildProcess | undefined;
  const deadline = setTimeout(() => child?.kill('SIGKILL'), WARM_UP_TIMEOUT_MS);
  try {
    const upstream = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(`ok ${req.method} ${req.url}`));
    });
    const upstreamUrl = await listen(servers, upstream);
    const { config, cookie } = await warmUpConfig(upstreamUrl);
    const now = new Date();
    const ca = createCertificateAuthority('gatehouse-warm-up', now, 3_600_000);
    const serving = createServingCertificate(ca, ['127.0.0.1'], now, 3_600_000);
    const operator = createHttpsServer({ cert: serving.cert, key: serving.key }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': STREAM_MEDIA_TYPE });
      res.write(streamLine({ type: 'config', config }));
    });
    const operatorUrl = (await listen(servers, operator)).replace('http:', 'https:');
    writeFileSync(join(work, 'ca.crt'), ca.cert);
    writeFileSync(join(work, 'token'), 'warm-up-token');

    child = spawn(
      process.execPath,
      [
        join(bin, 'code-cache-sidecar.js'),
        cacheDirectory,
        ...['--operator-url', operatorUrl, '--operator-ca', join(work, 'ca.crt')],
        ...['--token-file', join(work, 'token'), '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const started = await sidecarStarted(child, exited);
    const proxy = `http://${started.listen}`;
    const admin = `http://${started.adminListen}`;
    const signedIn = { cookie };
    for (let round = 0; round < ROUNDS; round++) {
      await expectStatus(fetch(`${proxy}/public/page`), 200);
      await expectStatus(fetch(`${proxy}/public/page`, { method: 'HEAD' }), 200);
      await expectStatus(fetch(`${proxy}/app/page?q=1`, { headers: signedIn }), 200);
      await expectStatus(
        fetch(`${proxy}/app/form`, { method: 'POST', headers: signedIn, body: 'x'.repeat(4096) }),
        200,
      );
      await expectStatus(fetch(`${proxy}/private/page`, { headers: signedIn }), 403);
      await expectStatus(fetch(`${admin}/healthz`), 200);
      await expectStatus(fetch(`${admin}/readyz`), 200);
      await expectStatus(fetch(`${admin}/metrics`), 200);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the warm-up sidecar exited with ${code}`);
    const key = sidecarScriptKey(readSidecarScript(script));
    if (key === undefined) throw new Error(`${script} does not start with the sidecar script's header`);
    const file = sidecarCodeCacheFile(cacheDirectory, key);
    return { file, bytes: statSync(file).size };
  } finally {
    clearTimeout(deadline);
    if (child?.exitCode === null) child.kill('SIGKILL');
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The warm-up application: `/public/**` open to everyone, `/private/**` denied, the rest for the
 * `engineering` group; with a session cookie sealed as a sign-in would seal it.
 */
async function warmUpConfig(upstreamUrl: string) {
  const keys = generateApplicationKeys('ES256');
  const application: AccessApplication = {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name: 'warm-up', namespace: 'gatehouse-system' },
    spec: {
      hosts: ['127.0.0.1'],
      upstream: { url: upstreamUrl },
      policies: [{ name: 'public' }, { name: 'private' }, { name: 'engineers' }],
      authentication: {
        externalUrl: 'http://127.0.0.1',
        // Never contacted: the session below is sealed as the sign-in would seal it.
        identityProviders: [{ name: 'corp', issuer: 'https://idp.invalid/', clientId: 'warm-up' }],
      },
    },
  };
  const policy = (name: string, spec: AccessPolicy['spec']) => ({
    value: {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name },
      spec,
    } as AccessPolicy,
  });
  const rendered = renderSidecarConfig({
    application,
    keys,
    policies: new Map([
      ['public', policy('public', { decision: 'bypass', include: [{ paths: ['/public/**'] }] })],
      ['private', policy('private', { decision: 'deny', include: [{ paths: ['/private/**'] }] })],
      ['engineers', policy('engineers', { decision: 'allow', include: [{ groups: ['engineering'] }] })],
    ]),
  });
  if (!rendered.ok) throw new Error(`the warm-up config does not render: ${JSON.stringify(rendered.errors)}`);
  const now = Math.floor(Date.now() / 1000);
  const sealed = await createSealer(keys.cookie).seal('session', {
    v: 1,
    sid: 'warm-up-session',
    sub: 'warm-up',
    email: 'warm-up@example.com',
    groups: ['engineering'],
    idp: 'corp',
    claims: {},
    iat: now,
    exp: now + 3600,
    seen: now,
    refreshAt: null,
    refreshToken: null,
    idToken: null,
  });
  return { config: rendered.config, cookie: `_gatehouse=${sealed}` };
}

/** Listens on a loopback port; the server's URL. */
async function listen(servers: Server[], server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The sidecar's addresses, from its `sidecar_started` line. */
async function sidecarStarted(
  child: ChildProcess,
  exited: Promise<number | null>,
): Promise<{ listen: string; adminListen: string }> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const started = (async () => {
    for await (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as { type?: string; listen?: string; adminListen?: string };
      if (event.type === 'sidecar_started' && event.listen && event.adminListen)
        return { listen: event.listen, adminListen: event.adminListen };
    }
    throw new Error('the warm-up sidecar ended its output before it started');
  })();
  return Promise.race([
    started,
    exited.then((code) => {
      throw new Error(`the warm-up sidecar exited with ${code} before it started`);
    }),
  ]).finally(() => {
    // Its later lines are not needed; keep them flowing so it never blocks on a full pipe.
    child.stdout?.resume();
  });
}

async function expectStatus(response: Promise<Response>, status: number): Promise<void> {
  const got = await response;
  await got.arrayBuffer();
  if (got.status !== status)
    throw new Error(`the warm-up sidecar answered ${got.url} with ${got.status}, not ${status}`);
}
