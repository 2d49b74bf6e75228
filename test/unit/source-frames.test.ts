import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { framesInSource } from '../../lib/source-frames.ts';
import { SHIPPED_BUNDLE } from '../../scripts/bundle-settings.ts';

// A defect's frames, read from a bundle built with the shipped settings (minified, a linked
// source map beside it), are written as the source's path, line and column.

let dir: string;
let frames: string[];

/** The frames of an error's stack (its `at ...` lines). */
const framesOf = (error: Error) =>
  (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-source-frames-'));
  writeFileSync(
    join(dir, 'thrower.ts'),
    [
      '// A module whose error comes from its third line.',
      'export function failDeep(what: string): never {',
      "  throw new TypeError('cannot read ' + what);",
      '}',
      'export function callOut(what: string): never {',
      '  return failDeep(what);',
      '}',
      '',
    ].join('\n'),
  );
  await build({
    ...SHIPPED_BUNDLE,
    entryPoints: [join(dir, 'thrower.ts')],
    outfile: join(dir, 'out/bin/chunks/thrower.js'),
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  // In a process of its own: this one (vitest) places frames in the source by itself.
  const stack = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { callOut } = await import(${JSON.stringify(pathToFileURL(join(dir, 'out/bin/chunks/thrower.js')).href)});
try { callOut('config'); } catch (error) { process.stdout.write(error.stack); }`,
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  frames = framesOf(Object.assign(new Error(), { stack }));
});

describe('stack frames placed in the source', () => {
  it('a frame of a minified bundle reads as its source file, line and column', () => {
    expect(frames[0]).toMatch(/thrower\.js:3:\d+\)$/); // minified: the banner's two lines, then all of it
    const placed = framesInSource(frames);
    expect(placed[0]).toMatch(/^\s*at failDeep \(.*thrower\.ts:3:9\)$/);
    expect(placed[1]).toMatch(/^\s*at callOut \(.*thrower\.ts:6:10\)$/);
    // The source path as esbuild wrote it relative to the map, without the climb up to it.
    expect(placed[0]).not.toContain('../');
  });

  it("frames without a map beside their file stay as they were: Node.js's own, this test's", () => {
    const placed = framesInSource(frames);
    for (let i = 2; i < frames.length; i++) expect(placed[i]).toBe(frames[i]);
    const own = framesOf(new Error('here'));
    expect(framesInSource(own)).toEqual(own);
  });

  it('a map that cannot be read, or that does not place the location, leaves the frame', () => {
    const broken = join(dir, 'broken.js');
    writeFileSync(`${broken}.map`, 'not a source map');
    const elsewhere = join(dir, 'out/bin/chunks/thrower.js');
    const lines = [
      `    at f (${pathToFileURL(broken).href}:1:10)`,
      `    at g (${elsewhere}:900:1)`,
      '    at h (node:internal/timers:588:17)',
      '    at <anonymous>',
    ];
    expect(framesInSource(lines)).toEqual(lines);
  });
});
