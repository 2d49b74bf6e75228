import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forbiddenImports, repositorySources } from '../helpers/import-rules.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('import rules between lib, contract, sidecar, operator and audit', () => {
  it.each([
    ['sidecar/src/a.ts', "import { x } from '../../operator/src/b.ts';", 'operator/src/b.ts'],
    ['operator/src/a.ts', "import type { X } from '../../sidecar/src/b.ts';", 'sidecar/src/b.ts'],
    ['audit/src/a.ts', "export { x } from '../../operator/src/kube/b.ts';", 'operator/src/kube/b.ts'],
    ['contract/a.ts', "import { x } from '../sidecar/src/b.ts';", 'sidecar/src/b.ts'],
    ['lib/a.ts', "import { x } from '../contract/b.ts';", 'contract/b.ts'],
    ['lib/kube/a.ts', "const m = await import('../../audit/src/b.ts');", 'audit/src/b.ts'],
  ])('%s importing %s is refused', (file, text, target) => {
    expect(forbiddenImports(new Map([[file, text]]))).toEqual([{ file, imports: target }]);
  });

  it.each([
    ['sidecar/src/a.ts', "import { x } from '../../contract/b.ts';\nimport { y } from '../../lib/c.ts';"],
    ['operator/src/a/b.ts', "import { x } from '../c.ts';\nimport { y } from '../../../lib/kube/d.ts';"],
    ['contract/config/a.ts', "import { x } from '../../lib/b.ts';\nimport { y } from '../api/c.ts';"],
    ['lib/a.ts', "import { x } from './b.ts';\nimport { y } from 'undici';"],
  ])('%s with allowed imports passes', (file, text) => {
    expect(forbiddenImports(new Map([[file, text]]))).toEqual([]);
  });

  it('the repository follows them', () => {
    expect(forbiddenImports(repositorySources(ROOT))).toEqual([]);
  });
});
