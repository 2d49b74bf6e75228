import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIDECAR_NODE_ENV, SIDECAR_NODE_OPTIONS } from '../../contract/sidecar-node-options.ts';
import { loopbackAppDir, REPO_ROOT, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

/**
 * Node.js carries a code cache of its own modules, which V8 takes only from a process with the
 * flags it was made with: a V8 flag that affects code (`--expose-gc`, for one) makes Node.js
 * compile each of its modules from source when first loaded, tens of milliseconds of every start.
 * NODE_DEBUG_NATIVE=CODE_CACHE prints "... is rejected" for each.
 */
const REJECTED = /Code cache of (\S+) .*is rejected/g;

function rejectedIn(stderr: string): string[] {
  return [...stderr.matchAll(REJECTED)].map((m) => m[1] as string);
}

/** Runs the idle collection twice, then loads Node.js modules a sidecar loads later; prints nothing else. */
function collectThenLoad(nodeOptions: string): string {
  const script = `
    const { memoryReducingCollection } = await import(${JSON.stringify(join(REPO_ROOT, 'lib/idle-collection.ts'))});
    const collect = memoryReducingCollection();
    collect();
    collect();
    for (const name of ['node:https', 'node:zlib', 'node:http2', 'node:dns']) process.getBuiltinModule(name);
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...SIDECAR_NODE_ENV, NODE_OPTIONS: nodeOptions, NODE_DEBUG_NATIVE: 'CODE_CACHE' },
    encoding: 'utf8',
  });
  expect(run.status, run.stderr.slice(-2000)).toBe(0);
  return run.stderr;
}

describe("Node.js's code cache of its own modules", () => {
  it('stays in use with the sidecar options and after idle collections; --expose-gc at start would lose it', () => {
    const shipped = collectThenLoad(SIDECAR_NODE_OPTIONS);
    expect(shipped).toMatch(/is accepted/);
    expect(rejectedIn(shipped)).toEqual([]);
    // The check can see the difference: the same with --expose-gc given at start.
    expect(rejectedIn(collectThenLoad(`${SIDECAR_NODE_OPTIONS} --expose-gc`)).length).toBeGreaterThan(10);
  });

  it('the built sidecar starts, serves and collects at rest with every cache accepted', async () => {
    const upstream = await startUpstream();
    const proc = await startSidecarProcess(loopbackAppDir(upstream.url), ['--idle-collection-after', '1s'], {
      NODE_DEBUG_NATIVE: 'CODE_CACHE',
    });
    try {
      const res = await fetch(`http://127.0.0.1:${proc.port}/`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const deadline = Date.now() + 10_000;
      let metrics = '';
      while (Date.now() < deadline && !/^gatehouse_idle_collections_total [1-9]/m.test(metrics)) {
        await new Promise((r) => setTimeout(r, 200));
        metrics = await (await fetch(`http://127.0.0.1:${proc.adminPort}/metrics`)).text();
      }
      expect(metrics).toMatch(/^gatehouse_idle_collections_total [1-9]/m);
      // Served again after the collection: anything it loads now is checked too.
      expect((await fetch(`http://127.0.0.1:${proc.port}/`)).status).toBe(200);
      expect(proc.stderr()).toMatch(/is accepted/);
      expect(rejectedIn(proc.stderr())).toEqual([]);
    } finally {
      await proc.stop();
      await upstream.close();
    }
  }, 30_000);
});
