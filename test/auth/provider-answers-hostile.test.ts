import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/control-plane.ts';
import {
  type ForgedProvider,
  type Forgery,
  forgedProviderConfig,
  startForgedProvider,
} from '../helpers/forged-provider.ts';
import { eventually, sleep, statusesOf } from '../helpers/hostile.ts';
import { HttpBrowser, type Page } from '../helpers/http-browser.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startSignInSidecar } from '../helpers/raw-sign-in.ts';
import {
  applicationYaml,
  peakRssBytes,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The answers of an identity provider are read whole by the libraries that take them (discovery,
// keys, token). A provider answering without end (broken, or an issuer URL that names a file
// server or a stream) took a sidecar from 70 MiB to 3.9 GB within the 10 s of the call, from one
// anonymous request to /.gatehouse/login: past the chart's 512 MiB limit, every sidecar of the
// application was killed and restarted while any client asked. Answers are now cut at 1 MiB.

const MIB = 1024 * 1024;

describe('a provider whose answers never end', () => {
  let sidecar: InProcessSidecar;
  let upstream: TestUpstream;
  let forged: ForgedProvider | undefined;
  let origin: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    sidecar = await startSidecar(undefined);
    origin = `http://127.0.0.1:${sidecar.port}`;
  });
  afterEach(async () => {
    await forged?.close();
  });
  afterAll(async () => {
    await sidecar.close();
    await upstream.close();
  });

  /** A fresh provider (its discovery and keys not cached yet) bending its answers so. */
  async function provider(forgery: Forgery): Promise<ForgedProvider> {
    forged = await startForgedProvider('gatehouse');
    forged.forgery = forgery;
    sidecar.sidecar.install(forgedProviderConfig(origin, upstream.url, forged.issuer));
    return forged;
  }

  it.each<[Forgery, string, number]>([
    ['discovery_endless', '/.gatehouse/login', 502],
    ['token_endless', '/.gatehouse/callback', 502],
    ['jwks_endless', '/.gatehouse/callback', 502],
    ['token_declared_huge', '/.gatehouse/callback', 502],
  ])(
    '%s: the sign-in fails at once as the provider\u2019s, and the answer is let go',
    async (forgery, where, status) => {
      const bent = await provider(forgery);
      const before = sidecar.events('login_failed').length;
      const started = performance.now();
      const pages = await new HttpBrowser().follow(`${origin}/app`);
      const elapsedMs = performance.now() - started;
      const failed = pages.find((p: Page) => new URL(p.url).pathname === where && p.status === status);
      expect(failed, JSON.stringify(pages.map((p) => [p.url, p.status]))).toBeDefined();
      expect(sidecar.events('login_failed').slice(before)).toEqual([
        expect.objectContaining({
          reason: 'provider_unavailable',
          provider: 'forged',
          detail: expect.stringContaining('response_too_large'),
        }),
      ]);
      // Well within the provider timeout (10 s): the read stopped at the bound, not at the clock.
      expect(elapsedMs).toBeLessThan(3_000);
      await eventually('the endless answer closed', () => bent.endless.open === 0, 3_000);
      expect(bent.endless.bytes).toBeLessThan(32 * MIB);
    },
  );
});

describe('a refresh whose answer is over the bound', () => {
  it('the session goes on (the provider\u2019s fault, tried again later), and the line says the answer was cut', async () => {
    const upstream = await startUpstream();
    const forged = await startForgedProvider('gatehouse');
    forged.forgery = 'refresh_hangs'; // a refresh token, due in a second
    const gateway = await startSignInSidecar(forged.issuer, upstream.url);
    try {
      const cookie = await gateway.signIns.complete('127.0.0.14');
      await sleep(2_100);
      forged.forgery = 'token_declared_huge';
      const page = await gateway.signIns.send('/wiki', '127.0.0.14', cookie);
      expect(statusesOf(await page.waitFor(/\r\n\r\n/))[0]).toBe(200);
      const failed = await gateway.process.waitForLine((l) => l.type === 'session_refresh_failed');
      expect(failed).toMatchObject({ reason: 'provider_unavailable' });
      expect(String(failed.detail)).toMatch(
        /^response_too_large: the answer of http:\/\/127\.0\.0\.1:\d+ is over 1048576 bytes/,
      );
    } finally {
      await gateway.stop();
      await forged.close();
      await upstream.close();
    }
  });
});

describe('as shipped: one anonymous request while the provider\u2019s discovery never ends', () => {
  it('keeps the sidecar near its resting memory, and it goes on serving', async () => {
    const forged = await startForgedProvider('gatehouse');
    forged.forgery = 'discovery_endless';
    const upstream = await startUpstream();
    const port = await freePort();
    const yaml = applicationYaml({
      hosts: ['127.0.0.1'],
      upstream: { url: upstream.url },
      policies: [{ name: 'users' }, { name: 'health' }],
      authentication: {
        externalUrl: `http://127.0.0.1:${port}`,
        identityProviders: [{ name: 'forged', issuer: forged.issuer, clientId: 'gatehouse' }],
      },
    });
    const dir = writeConfigDir(
      `${yaml}---\napiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: users\nspec: {"decision":"allow","include":[{"authenticated":true}]}\n` +
        `---\napiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: health\nspec: {"decision":"bypass","include":[{"paths":["/healthz"]}]}\n`,
    );
    const sidecar = await startSidecarProcess(dir, ['--listen', `127.0.0.1:${port}`]);
    try {
      const login = await fetch(`http://127.0.0.1:${sidecar.port}/.gatehouse/login`, {
        headers: { accept: 'text/html' },
        redirect: 'manual',
      });
      await login.text();
      expect(login.status).toBe(502);
      const peak = await peakRssBytes(sidecar.child.pid as number);
      // Before: 3.9 GB within the 10 s of the call.
      expect(peak).toBeLessThan(200 * MIB);
      const health = await fetch(`http://127.0.0.1:${sidecar.port}/healthz`);
      await health.text();
      expect(health.status).toBe(200);
    } finally {
      await sidecar.stop();
      await upstream.close();
      await forged.close();
    }
  });
});
