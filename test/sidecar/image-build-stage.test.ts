import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The image's build stage (Dockerfile) copies named files into /src and runs `npm run build`.
 * Without a container engine, this lays out exactly what its COPY lines name (node_modules stands
 * in for `npm ci`) and runs the build there: a file the build needs and the stage leaves out
 * fails here instead of in the image build.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-build-stage-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The build stage's COPY lines as [source, destination] pairs (destinations relative to WORKDIR). */
function buildStageCopies(dockerfile: string): [string, string][] {
  const stage = /^FROM \S+ AS build\n([\s\S]*?)^FROM /m.exec(dockerfile)?.[1];
  if (stage === undefined) throw new Error('Dockerfile: no build stage');
  const copies: [string, string][] = [];
  for (const line of stage.split('\n')) {
    const words = /^COPY (.+)$/.exec(line)?.[1]?.split(/\s+/);
    if (!words || words.some((w) => w.startsWith('--'))) continue;
    const destination = words.at(-1) as string;
    const sources = words.slice(0, -1);
    for (const source of sources)
      copies.push([
        source,
        destination.endsWith('/') ? join(destination, source.split('/').at(-1) as string) : destination,
      ]);
  }
  return copies;
}

describe("the image's build stage", () => {
  it('builds dist/ from exactly the files its COPY lines name', () => {
    const copies = buildStageCopies(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(copies.map(([s]) => s)).toContain('package.json');
    const src = join(work, 'src');
    for (const [source, destination] of copies) {
      const to = join(src, destination);
      mkdirSync(dirname(to), { recursive: true });
      cpSync(join(ROOT, source), to, { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
    const build = spawnSync(process.execPath, ['scripts/build.ts'], { cwd: src, encoding: 'utf8' });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    expect(existsSync(join(src, 'dist/bin/gatehouse.js'))).toBe(true);
    expect(existsSync(join(src, 'dist/bin/warm-compile-cache.js'))).toBe(true);
  });
});
