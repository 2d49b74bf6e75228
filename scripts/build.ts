// Builds what ships: dist/bin/gatehouse.js, one ES module bundle of the command with its runtime
// dependencies, and a chunk per command that loads only when that command runs (a sidecar never
// parses the operator, the audit or the Kubernetes client). Types are checked by `npm run
// typecheck`, not here: esbuild only strips them.
//
//   node scripts/build.ts [--metafile dist/meta.json]
import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { metafile: { type: 'string' } } });

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'bin/gatehouse': 'bin/gatehouse.ts' },
  outdir: 'dist',
  chunkNames: 'bin/chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  // Bundled CommonJS packages call require() for Node's own modules; ES modules have none.
  banner: {
    js: "import { createRequire as __gatehouseRequire } from 'node:module';\nconst require = __gatehouseRequire(import.meta.url);",
  },
  legalComments: 'linked',
  metafile: values.metafile !== undefined,
  logLevel: 'warning',
});
if (values.metafile !== undefined && result.metafile)
  writeFileSync(resolve(root, values.metafile), JSON.stringify(result.metafile));
