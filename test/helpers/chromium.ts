import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium (installed by .ci/run); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where browser tests keep their screenshots (kept by CI as artifacts). */
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

/** Launches headless Chromium for a test (with `args` of its own); fails with what to run when it is not installed. */
export async function launchChromium(args: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: run .ci/run or apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', ...args] });
}

/** A page of another site for a browser test: `host` resolves to loopback (launchChromium's `--host-resolver-rules`). */
export interface CrossSitePage {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `html()` (read at each request) at `http://<host>:<port>/`, on loopback. */
export async function startCrossSitePage(host: string, html: () => string): Promise<CrossSitePage> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
