import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { freePort } from './control-plane.ts';
import { type BackchannelProvider, startBackchannelProvider } from './session-ends.ts';
import { type SidecarProcess, startSidecarProcess } from './sidecar-process.ts';
import type { TestUpstream } from './upstream.ts';
import { startEchoUpstream, writeStandaloneWiki } from './wiki-app.ts';

/** A standalone wiki replica that signs people in, with the revocations directory it shares. */
export interface StandaloneWiki {
  readonly origin: string;
  readonly sidecar: SidecarProcess;
  readonly idp: BackchannelProvider;
  readonly upstream: TestUpstream;
  /** The paths the application was asked for, in order. */
  readonly upstreamPaths: string[];
  readonly revocationsDir: string;
  stop(): Promise<void>;
}

/**
 * Starts the wiki standalone (oidc-provider with back-channel logout, an echo application) with
 * `--revocations-dir`; `prefill` writes into the directory before the sidecar starts.
 */
export async function startStandaloneWiki(
  directoryPrefix: string,
  prefill: (revocationsDir: string) => void = () => undefined,
): Promise<StandaloneWiki> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const upstreamPaths: string[] = [];
  const upstream = await startEchoUpstream(upstreamPaths);
  const idp = await startBackchannelProvider(origin);
  const configDir = writeStandaloneWiki({
    hosts: [`127.0.0.1:${port}`],
    upstreamUrl: upstream.url,
    externalUrl: origin,
    issuer: idp.provider.issuer,
  });
  const revocationsDir = mkdtempSync(join(tmpdir(), directoryPrefix));
  let sidecar: SidecarProcess;
  try {
    prefill(revocationsDir);
    sidecar = await startSidecarProcess(configDir, [
      '--listen',
      `127.0.0.1:${port}`,
      '--revocations-dir',
      revocationsDir,
    ]);
  } catch (error) {
    await idp.close();
    await upstream.close();
    throw error;
  }
  return {
    origin,
    sidecar,
    idp,
    upstream,
    upstreamPaths,
    revocationsDir,
    async stop() {
      await sidecar.stop();
      await idp.close();
      await upstream.close();
    },
  };
}

/** Signs `login` in to the wiki in a page of headless Chromium (the provider's own login form); the page ends at `/home`. */
export async function signInWithChromium(page: Page, wiki: StandaloneWiki, login = 'alice'): Promise<void> {
  await page.goto(`${wiki.origin}/home`);
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'correct horse');
  await Promise.all([page.waitForURL(`${wiki.origin}/home`), page.click('button[type="submit"]')]);
}
