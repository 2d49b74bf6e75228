// Builds what ships: dist/bin/gatehouse.js, one ES module bundle of the command with its runtime
// dependencies, and a chunk per command that loads only when that command runs (a sidecar never
// parses the operator, the audit or the Kubernetes client). The sidecar is a second bundle,
// dist/bin/sidecar/sidecar-cli.js with chunks of its own, which bin/gatehouse.ts starts for
// `gatehouse sidecar`: in the first bundle its modules were spread over the chunks they share with
// the other commands in every combination, 38 modules resolved and loaded at every start, now 13
// (docs/benchmarks.md, "The sidecar's bundle of its own"). Types are checked by `npm run typecheck`, not
// here: esbuild only strips them.
//
//   node scripts/build.ts [--metafile dist/meta.json]
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { SHIPPED_BUNDLE } from './bundle-settings.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { metafile: { type: 'string' } } });

rmSync(resolve(root, 'dist'), { recursive: true, force: true });

/** Where bin/gatehouse.js imports the sidecar's command line from (bin/sidecar-cli.ts in the source). */
const SIDECAR_CLI_BUNDLED = './sidecar/sidecar-cli.js';

/** In the first bundle, bin/gatehouse.ts's import of the sidecar's command line is of the second. */
const sidecarApart: Plugin = {
  name: 'sidecar-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/sidecar-cli\.ts$/ }, (args) =>
      args.importer === resolve(root, 'bin/gatehouse.ts')
        ? { path: SIDECAR_CLI_BUNDLED, external: true }
        : undefined,
    );
  },
};

/** What both builds share: split into chunks (each dynamic import loads when first needed). */
const SPLIT = {
  absWorkingDir: root,
  outdir: 'dist',
  ...SHIPPED_BUNDLE,
  splitting: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
} as const;

const commands = await build({
  ...SPLIT,
  entryPoints: {
    'bin/gatehouse': 'bin/gatehouse.ts',
    // Run once by the image build (Dockerfile): Node's compile cache for every module of dist/.
    'bin/warm-compile-cache': 'bin/warm-compile-cache.ts',
  },
  chunkNames: 'bin/chunks/[name]-[hash]',
  plugins: [sidecarApart, ...SHIPPED_BUNDLE.plugins],
});
const sidecar = await build({
  ...SPLIT,
  entryPoints: { 'bin/sidecar/sidecar-cli': 'bin/sidecar-cli.ts' },
  chunkNames: 'bin/sidecar/chunks/[name]-[hash]',
});
if (!existsSync(resolve(root, 'dist/bin', SIDECAR_CLI_BUNDLED)))
  throw new Error(
    `build: bin/gatehouse.js imports ${SIDECAR_CLI_BUNDLED}, which the sidecar's build did not write`,
  );
const inputs = [
  ...new Set([...Object.keys(commands.metafile.inputs), ...Object.keys(sidecar.metafile.inputs)]),
];
if (values.metafile !== undefined)
  writeFileSync(
    resolve(root, values.metafile),
    JSON.stringify({ commands: commands.metafile, sidecar: sidecar.metafile }),
  );
writeFileSync(resolve(root, 'dist/THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses(inputs));

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
