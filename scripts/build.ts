// Builds what ships: dist/bin/gatehouse.js, one ES module bundle of the command with its runtime
// dependencies, and a chunk per command that loads only when that command runs (a sidecar never
// parses the operator, the audit or the Kubernetes client); and the sidecar's code as one script,
// dist/bin/sidecar-script.js, which `gatehouse sidecar` runs with a code cache (bin/sidecar-script.ts).
// Types are checked by `npm run typecheck`, not here: esbuild only strips them.
//
//   node scripts/build.ts [--metafile dist/meta.json]
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { SIDECAR_SCRIPT_NAME, sidecarScriptHeader } from '../bin/sidecar-script.ts';
import { SHIPPED_BUNDLE, SIDECAR_SCRIPT_BUNDLE } from './bundle-settings.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { metafile: { type: 'string' } } });

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    'bin/gatehouse': 'bin/gatehouse.ts',
    // Run once by the image build (Dockerfile): Node's compile cache for every module above.
    'bin/warm-compile-cache': 'bin/warm-compile-cache.ts',
    // Run by the warm-up: a sidecar that writes its code cache once it stops (bin/sidecar-script.ts).
    'bin/code-cache-sidecar': 'bin/code-cache-sidecar.ts',
  },
  outdir: 'dist',
  chunkNames: 'bin/chunks/[name]-[hash]',
  ...SHIPPED_BUNDLE,
  splitting: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const sidecarScript = await buildSidecarScript();
if (values.metafile !== undefined)
  writeFileSync(resolve(root, values.metafile), JSON.stringify(result.metafile));
writeFileSync(
  resolve(root, 'dist/THIRD-PARTY-LICENSES.txt'),
  thirdPartyLicenses([...Object.keys(result.metafile.inputs), ...Object.keys(sidecarScript.inputs)]),
);

/**
 * dist/bin/sidecar-script.js and its source map: the sidecar as one CommonJS script
 * (SIDECAR_SCRIPT_BUNDLE), in ASCII alone (a one-byte string in memory: esbuild escapes what is
 * not ASCII in code, and here what is left, in comments), under a first line that holds the key of
 * its text (bin/sidecar-script.ts).
 */
async function buildSidecarScript(): Promise<Metafile> {
  const outfile = resolve(root, 'dist/bin', SIDECAR_SCRIPT_NAME);
  const script = await build({
    absWorkingDir: root,
    entryPoints: ['sidecar/src/cli/sidecar-entry.ts'],
    outfile,
    ...SIDECAR_SCRIPT_BUNDLE,
    sourcemap: 'linked',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  for (const output of script.outputFiles) {
    if (output.path === outfile) {
      const body = output.text.replace(
        /[\u0080-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
      writeFileSync(output.path, sidecarScriptHeader(body) + body);
    } else {
      // The header is one more line before the code: one more (empty) line in the mappings.
      const map = JSON.parse(output.text) as { mappings: string };
      writeFileSync(output.path, JSON.stringify({ ...map, mappings: `;${map.mappings}` }));
    }
  }
  return script.metafile;
}

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
