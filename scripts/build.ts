// Builds what ships: dist/bin/gatehouse.js, one ES module bundle of the command with its runtime
// dependencies, and a chunk per command that loads only when that command runs (a sidecar never
// parses the operator, the audit or the Kubernetes client). Types are checked by `npm run
// typecheck`, not here: esbuild only strips them.
//
//   node scripts/build.ts [--metafile dist/meta.json]
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { SHIPPED_BUNDLE } from './bundle-settings.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { metafile: { type: 'string' } } });

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    'bin/gatehouse': 'bin/gatehouse.ts',
    // Run once by the image build (Dockerfile): Node's compile cache for every module above.
    'bin/warm-compile-cache': 'bin/warm-compile-cache.ts',
  },
  outdir: 'dist',
  chunkNames: 'bin/chunks/[name]-[hash]',
  ...SHIPPED_BUNDLE,
  splitting: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
if (values.metafile !== undefined)
  writeFileSync(resolve(root, values.metafile), JSON.stringify(result.metafile));
writeFileSync(
  resolve(root, 'dist/THIRD-PARTY-LICENSES.txt'),
  thirdPartyLicenses(Object.keys(result.metafile.inputs)),
);

/** The name, version, license and license text of every package whose code is in the bundle. */
function thirdPartyLicenses(inputs: readonly string[]): string {
  const packages = new Set<string>();
  for (const input of inputs) {
    const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) packages.add(match[1]);
  }
  const sections = [...packages].sort().map((name) => {
    const directory = resolve(root, 'node_modules', name);
    const manifest = JSON.parse(readFileSync(resolve(directory, 'package.json'), 'utf8')) as {
      version: string;
      license?: string;
    };
    const file = readdirSync(directory).find((f) => /^licen[cs]e/i.test(f));
    if (file === undefined) throw new Error(`build: ${name} has no license file to ship with the bundle`);
    const text = readFileSync(resolve(directory, file), 'utf8').trim();
    return `${name} ${manifest.version} (${manifest.license ?? 'see text'})\n\n${text}\n`;
  });
  return `Gatehouse bundles these packages (dist/bin). Their licenses follow.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`;
}
