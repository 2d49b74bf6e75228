import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SIDECAR_NODE_ENV,
  SIDECAR_NODE_OPTIONS,
  sidecarNodeOptionsApplied,
} from '../../contract/sidecar-node-options.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** Finding 11 of the hostile-client review: one definition of the sidecar's V8 options, used by every start. */
describe('the sidecar Node options', () => {
  it("the image's NODE_OPTIONS is the one definition", () => {
    const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
    const env = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1];
    expect(env).toBe(SIDECAR_NODE_OPTIONS);
  });

  it("the image sets every variable of the sidecar's environment, to the one definition", () => {
    const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
    const image = new Map(
      [...dockerfile.matchAll(/^ENV ([A-Z_]+)=(?:"([^"]*)"|(\S+))$/gm)].map((m) => [m[1], m[2] ?? m[3]]),
    );
    expect(Object.keys(SIDECAR_NODE_ENV)).toEqual([
      'NODE_OPTIONS',
      'MALLOC_TRIM_THRESHOLD_',
      'MALLOC_MMAP_THRESHOLD_',
    ]);
    for (const [name, value] of Object.entries(SIDECAR_NODE_ENV)) expect(image.get(name), name).toBe(value);
  });

  it.each([
    [[], '', false],
    [['--max-semi-space-size=4', '--v8-pool-size=1'], '', true],
    [['--max-semi-space-size=4'], '--v8-pool-size=1', true],
    [[], '--max-semi-space-size=4 --v8-pool-size=1', true],
    [[], '--max_semi_space_size=4 --v8_pool_size=1', true],
    [[], '--max-old-space-size=100 --v8-pool-size=1 --max-semi-space-size=4', true],
    [[], '--max-semi-space-size=4', false],
    [[], '--v8-pool-size=1', false],
    [[], '--max-semi-space-size=16 --v8-pool-size=1', false],
    [[], '--max-semi-space-size=1 --v8-pool-size=1', false],
    [[], '--max-semi-space-size=4 --v8-pool-size=4', false],
  ] as const)('applied with argv %j and NODE_OPTIONS %j: %s', (argv, env, applied) => {
    expect(sidecarNodeOptionsApplied(argv, env)).toBe(applied);
  });
});
