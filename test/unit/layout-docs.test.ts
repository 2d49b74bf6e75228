import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOP = /^(?:bin|lib|contract|sidecar|operator|audit|test|bench|charts|crds|docs|examples)\//;

/** Repository paths written in backticks. */
function pathsIn(text: string): string[] {
  return [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string).filter((p) => TOP.test(p));
}

describe('the layout in README.md and ARCHITECTURE.md matches the tree', () => {
  it.each(['README.md', 'ARCHITECTURE.md'])('every path %s names exists', (doc) => {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const paths = pathsIn(text);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('every folder of lib/, contract/ and the programs is described in ARCHITECTURE.md', () => {
    const text = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const folders = ['lib', 'contract', 'sidecar/src', 'operator/src', 'audit/src'].flatMap((top) =>
      readdirSync(join(ROOT, top), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => `${e.name}/`),
    );
    expect(folders.filter((f) => !text.includes(`\`${f}`) && !text.includes(`/${f}`))).toEqual([]);
  });
});
