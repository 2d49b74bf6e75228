import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIDECAR_NODE_OPTIONS } from '../../contract/sidecar-node-options.ts';
import {
  applicationYaml,
  copyShippedApp,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * `gatehouse sidecar` runs its code from dist/bin/sidecar-script.js with V8's code cache of
 * everything a sidecar compiled while the image's warm-up ran one (bin/sidecar-warm-up.ts). These
 * make that cache as the image does, on a copy of dist/, and start sidecars from the copy.
 */

let app: string;
let cache: string;
let cacheFile: string;
let upstream: TestUpstream;

beforeAll(async () => {
  app = copyShippedApp();
  upstream = await startUpstream();
  cache = join(app, 'compile-cache');
  mkdirSync(cache);
  const warmed = spawnSync(process.execPath, [join(app, 'dist/bin/warm-compile-cache.js'), cache], {
    env: { ...process.env, NODE_OPTIONS: SIDECAR_NODE_OPTIONS, NODE_COMPILE_CACHE: cache },
    encoding: 'utf8',
  });
  expect(warmed.stderr).toBe('');
  expect(warmed.status).toBe(0);
  cacheFile = join(cache, readdirSync(cache).find((f) => f.endsWith('.v8-code-cache')) as string);
});

afterAll(async () => {
  await upstream.close();
  rmSync(app, { recursive: true, force: true });
});

/** A sidecar from the copy with `cacheDirectory` as its NODE_COMPILE_CACHE; one request through it. */
async function serveOnce(
  cacheDirectory: string | undefined,
  script = join(app, 'dist/bin/gatehouse.js'),
  env: Record<string, string> = {},
) {
  const dir = writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: upstream.url } }));
  const sidecar = await startSidecarProcess(
    { sourceArgs: ['--config', dir] },
    [],
    { ...env, ...(cacheDirectory === undefined ? {} : { NODE_COMPILE_CACHE: cacheDirectory }) },
    [script],
  );
  try {
    const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
    expect(await response.text()).toBe('ok GET /through');
    expect(response.status).toBe(200);
  } finally {
    expect(await sidecar.stop()).toBe(0);
  }
  return { codeCache: sidecar.started.codeCache, stderr: sidecar.stderr() };
}

describe("the sidecar's code cache", () => {
  it('holds what a sidecar compiled while it served, well beyond what loading its script compiles', () => {
    // The cache of the same script right after its code ran to the end, as a module's cache at best would be.
    const loaded = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { runCodeCachedScript } from ${JSON.stringify(join(process.cwd(), 'lib/code-cached-script.ts'))};
         import { readSidecarScript } from ${JSON.stringify(join(process.cwd(), 'bin/sidecar-script.ts'))};
         const file = ${JSON.stringify(join(app, 'dist/bin/sidecar-script.js'))};
         process.stdout.write(String(runCodeCachedScript(file, readSidecarScript(file), undefined).createCodeCache().length));`,
      ],
      { env: { ...process.env, NODE_OPTIONS: SIDECAR_NODE_OPTIONS }, encoding: 'utf8' },
    );
    expect(loaded.stderr).toBe('');
    const afterLoad = Number(loaded.stdout);
    expect(afterLoad).toBeGreaterThan(100_000);
    expect(statSync(cacheFile).size).toBeGreaterThan(afterLoad * 1.2);
  });

  it('is read by a sidecar of the same build and options, and says so', async () => {
    const served = await serveOnce(cache);
    expect(served.codeCache).toBe('accepted');
    expect(served.stderr).toBe('');
  });

  it('without one, or with the compile cache turned off, the sidecar compiles its code as it runs and says so', async () => {
    expect((await serveOnce(undefined)).codeCache).toBe('none');
    expect((await serveOnce(cache, undefined, { NODE_DISABLE_COMPILE_CACHE: '1' })).codeCache).toBe('none');
  });

  it('a damaged cache is refused by V8: the sidecar serves, compiled as without it', async () => {
    const damaged = join(app, 'damaged-cache');
    mkdirSync(damaged);
    const bytes = readFileSync(cacheFile);
    // Same length, other bytes past V8's header (which V8 checks); then a cut one.
    for (let i = 32 + 64; i < bytes.length; i += 4096) bytes[i] = (bytes[i] as number) ^ 0xff;
    const name = join(damaged, cacheFile.split('/').pop() as string);
    writeFileSync(name, bytes);
    expect((await serveOnce(damaged)).codeCache).toBe('rejected');
    writeFileSync(name, readFileSync(cacheFile).subarray(0, 1000));
    expect((await serveOnce(damaged)).codeCache).toBe('rejected');
  });

  it('is never read for another text of the script, even one of the same length', async () => {
    // A build of other code: one character changed, the length as it was.
    const other = copyShippedApp();
    try {
      const script = join(other, 'dist/bin/sidecar-script.js');
      const text = readFileSync(script, 'latin1');
      const body = text.slice(text.indexOf('\n') + 1);
      const at = body.indexOf('Usage: gatehouse sidecar');
      expect(at).toBeGreaterThan(0);
      const changed = `${body.slice(0, at)}u${body.slice(at + 1)}`;
      const { sidecarScriptHeader } = await import('../../bin/sidecar-script.ts');
      writeFileSync(script, sidecarScriptHeader(changed) + changed, 'latin1');
      expect(statSync(script).size).toBe(text.length);
      // The cache of the original text, where that build would look for its own.
      const sameDirectory = join(other, 'compile-cache');
      mkdirSync(sameDirectory);
      copyFileSync(cacheFile, join(sameDirectory, cacheFile.split('/').pop() as string));
      expect((await serveOnce(sameDirectory, join(other, 'dist/bin/gatehouse.js'))).codeCache).toBe('none');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
