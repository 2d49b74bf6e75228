import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIDECAR_NODE_OPTIONS } from '../../contract/sidecar-node-options.ts';
import {
  copyShippedApp,
  loopbackAppDir,
  REPO_ROOT,
  startSidecarProcess,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * The image fills Node's compile cache for every module of dist/ when it is built
 * (bin/warm-compile-cache.ts, run by the Dockerfile), and every process of the image reads it
 * (NODE_COMPILE_CACHE) without being able to write it. These run the same program on a copy of
 * dist/ laid out as in the image, then the sidecar from that copy.
 */

let app: string;
let upstream: TestUpstream;

beforeAll(async () => {
  app = copyShippedApp();
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream.close();
  rmSync(app, { recursive: true, force: true }); // it holds a copy of the node binary
});

/** Runs the warm-up as the image does: its node, the sidecar's NODE_OPTIONS. */
function warm(cache: string, nodeOptions = SIDECAR_NODE_OPTIONS) {
  return spawnSync(process.execPath, [join(app, 'dist/bin/warm-compile-cache.js'), cache], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions, NODE_COMPILE_CACHE: cache },
    encoding: 'utf8',
  });
}

/** Every file of a directory tree with its size and modification time. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => {
      const stat = statSync(join(dir, name));
      return `${name} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

/** What Node's compile cache did for each module of dist/, from its debug output. */
function cacheUse(stderr: string): { accepted: Set<string>; other: string[] } {
  const accepted = new Set<string>();
  const other: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('[compile cache]') || !line.includes('/dist/')) continue;
    const accept = /V8 code cache for ESM file:\/\/\S+\/dist\/(\S+) was accepted/.exec(line);
    if (accept?.[1]) accepted.add(accept[1]);
    else if (!/reading cache from .* success|skip persisting .* because cache was the same/.test(line))
      other.push(line);
  }
  return { accepted, other };
}

/**
 * The dist/ modules a sidecar process loaded (its compiled modules are the ones Node would cache),
 * from whole debug lines only: the capture of stderr keeps its tail, so its first line may be cut.
 */
function distModules(stderr: string): Set<string> {
  const modules = new Set<string>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('[compile cache]')) continue;
    const found = /for ESM file:\/\/\S+\/dist\/(\S+?)(?:\.\.\.|\s)/.exec(line);
    if (found?.[1]) modules.add(found[1]);
  }
  return modules;
}

describe("the image's compile cache", () => {
  it('the Dockerfile fills it with the runtime stage node and options, as the user the processes run as', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const split = dockerfile.lastIndexOf('\nFROM ');
    const build = dockerfile.slice(0, split);
    const runtime = dockerfile.slice(split);
    const at = (pattern: RegExp) => {
      const found = pattern.exec(runtime);
      expect(found, String(pattern)).not.toBeNull();
      return found?.index ?? -1;
    };
    // An empty directory of the build stage, so that the runtime stage gets one its user owns.
    expect(build).toMatch(/^WORKDIR \/src$/m);
    expect(build).toMatch(/^RUN npm run build && mkdir compile-cache$/m);
    const copyDist = at(/^COPY --from=build \/src\/dist \.\/dist$/m);
    // package.json beside dist/ says its .js files are ES modules; without it Node tries each file
    // as CommonJS first (a copy of dist/ without it idles 2.5 MiB higher and starts slower).
    const copyPackage = at(/^COPY --from=build \/src\/package\.json \.\/package\.json$/m);
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).type).toBe('module');
    const options = at(/^ENV NODE_OPTIONS=/m);
    const cacheEnv = at(/^ENV NODE_COMPILE_CACHE=\/app\/compile-cache$/m);
    const owned = at(/^COPY --from=build --chown=65532:65532 \/src\/compile-cache \.\/compile-cache$/m);
    const run = at(
      /^RUN \["\/nodejs\/bin\/node", "\/app\/dist\/bin\/warm-compile-cache\.js", "\/app\/compile-cache"\]$/m,
    );
    expect(runtime).toMatch(/^WORKDIR \/app$/m);
    // Node keeps a cache directory per user ID: made as the user every process of the image runs as.
    const users = [...runtime.matchAll(/^USER (\S+)$/gm)];
    expect(users.map((m) => m[1])).toEqual(['65532:65532']);
    expect(users[0]?.index ?? Number.POSITIVE_INFINITY).toBeLessThan(run);
    for (const before of [copyDist, copyPackage, options, cacheEnv, owned]) expect(before).toBeLessThan(run);
  });

  it('the warm-up compiles every module of dist/, and a sidecar then reads each one it loads from the cache and writes nothing', async () => {
    const cache = join(app, 'compile-cache');
    const warmed = warm(cache);
    expect(warmed.stderr).toBe('');
    expect(warmed.status).toBe(0);
    // The chunks of both bundles: the commands', and the sidecar's own (scripts/build.ts).
    const chunks = ['dist/bin/chunks', 'dist/bin/sidecar/chunks'].flatMap((dir) =>
      readdirSync(join(app, dir)).filter((f) => f.endsWith('.js')),
    );
    expect(warmed.stdout).toBe(`warm-compile-cache: ${chunks.length + 2} modules compiled into ${cache}\n`);
    const before = listing(cache);
    expect(before.filter((f) => !f.includes('/')).length).toBe(1); // one directory for this node, its V8 and this user
    // That directory, the two entries, every chunk, and the warm-up itself (the cache is on when it starts, as in the image).
    expect(before.length).toBe(chunks.length + 4);

    const dir = loopbackAppDir(upstream.url);
    const sidecar = await startSidecarProcess(
      { sourceArgs: ['--config', dir] },
      [],
      { NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
      [join(app, 'dist/bin/gatehouse.js')],
    );
    let stderr: string;
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('ok GET /through');
    } finally {
      await sidecar.stop();
      stderr = sidecar.stderr();
    }
    const loaded = distModules(stderr);
    expect(loaded.size).toBeGreaterThan(10);
    const { accepted, other } = cacheUse(stderr);
    expect(other).toEqual([]);
    expect([...loaded].filter((m) => !accepted.has(m))).toEqual([]);
    expect(listing(cache)).toEqual(before);
  });

  it('is kept per user: made as the user the processes run as, it serves that user and no other', () => {
    const isRoot = process.getuid?.() === 0;
    const cache = join(app, 'compile-cache-of-one-user');
    const env = { ...process.env, NODE_OPTIONS: SIDECAR_NODE_OPTIONS, NODE_COMPILE_CACHE: cache };
    // As root, the image's user 65532 (with a node binary that user can reach); else this user.
    let asUser = (args: string[], withEnv: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, args, { env: withEnv, encoding: 'utf8' });
    if (isRoot) {
      const node = join(app, 'node');
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
      chmodSync(app, 0o755);
      mkdirSync(cache);
      chownSync(cache, 65532, 65532);
      asUser = (args, withEnv) =>
        spawnSync('setpriv', ['--reuid', '65532', '--regid', '65532', '--clear-groups', node, ...args], {
          env: withEnv,
          encoding: 'utf8',
        });
    }
    const warmed = asUser([join(app, 'dist/bin/warm-compile-cache.js'), cache], env);
    expect(warmed.stderr).toBe('');
    expect(warmed.status).toBe(0);
    const help = [join(app, 'dist/bin/gatehouse.js'), 'sidecar', '--help'];
    const debug = { ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };
    const same = asUser(help, debug);
    expect(same.status).toBe(0);
    const loaded = distModules(same.stderr);
    expect(loaded.size).toBeGreaterThan(5);
    const { accepted, other } = cacheUse(same.stderr);
    expect(other).toEqual([]);
    expect([...loaded].filter((m) => !accepted.has(m))).toEqual([]);
    if (isRoot) {
      // Another user (root here) finds no cache of its own in it: compiled as without one.
      const another = spawnSync(process.execPath, help, { env: debug, encoding: 'utf8' });
      expect(another.status).toBe(0);
      expect(cacheUse(another.stderr).accepted.size).toBe(0);
    }
  });

  it('a cache it cannot create or write changes nothing: the sidecar serves and Node says nothing', async () => {
    // A path under a regular file: no process, not even root, can create it.
    const blocker = join(mkdtempSync(join(tmpdir(), 'gatehouse-cache-')), 'file');
    writeFileSync(blocker, '');
    const dir = loopbackAppDir(upstream.url);
    const sidecar = await startSidecarProcess(
      { sourceArgs: ['--config', dir] },
      [],
      { NODE_COMPILE_CACHE: join(blocker, 'compile-cache') },
      [join(app, 'dist/bin/gatehouse.js')],
    );
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
      expect(response.status).toBe(200);
    } finally {
      expect(await sidecar.stop()).toBe(0);
    }
    expect(sidecar.stderr()).toBe('');
  });

  it('a cache made with other V8 options is not used: each module is compiled as without it', async () => {
    const cache = join(mkdtempSync(join(tmpdir(), 'gatehouse-cache-')), 'other-options');
    const warmed = warm(cache, '--jitless');
    expect(warmed.status).toBe(0);
    const dir = loopbackAppDir(upstream.url);
    const sidecar = await startSidecarProcess(
      { sourceArgs: ['--config', dir] },
      [],
      { NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
      [join(app, 'dist/bin/gatehouse.js')],
    );
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
      expect(response.status).toBe(200);
    } finally {
      await sidecar.stop();
    }
    expect(cacheUse(sidecar.stderr()).accepted.size).toBe(0);
  });

  it('the warm-up says how it is used and fails without a directory', () => {
    const result = spawnSync(process.execPath, [join(app, 'dist/bin/warm-compile-cache.js')], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('usage: node dist/bin/warm-compile-cache.js <directory>\n');
    expect(() =>
      execFileSync(process.execPath, [join(app, 'dist/bin/warm-compile-cache.js'), '/dev/null/cache'], {
        stdio: 'pipe',
      }),
    ).toThrow(/could not enable its compile cache in \/dev\/null\/cache/);
  });
});
