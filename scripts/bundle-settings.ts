// How what ships is bundled (esbuild settings and plugins), shared by scripts/build.ts and the
// benchmarks that build other programs the same way (bench/proxy-cost.ts's bare Node.js proxy).
import { createRequire } from 'node:module';
import { dirname, relative } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

/**
 * Node's own modules through require(), not import. The ES module facade of a builtin reads every
 * export once, getters included: `import ... from 'node:fs'` loads fs/promises, its streams,
 * watchers and readline; node:crypto loads WebCrypto; node:net its block list; node:http's lazy
 * WebSocket, CloseEvent and MessageEvent getters load Node's internal undici (40 ms of every
 * start). Each importing module gets its own two-line CommonJS stand-in, `module.exports =
 * require(...)`, so a name is read where it is used (a getter loads what it loads then, if ever)
 * and the stand-in lands in its importer's chunk instead of a chunk of its own. (esbuild gives
 * each importer a view of the module with a getter per export, which costs part of the gain:
 * the sidecar's module graph is 3.4 ms faster in all, docs/benchmarks.md.)
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    // The importer's path from the working directory names its stand-in (the same in every build).
    const from = build.initialOptions.absWorkingDir ?? process.cwd();
    // Only `import` statements: a bundled CommonJS package's require() (and the stand-in's own)
    // already gets the module itself, and the banner's import of node:module stays as it is.
    build.onResolve({ filter: /^node:[a-z_/0-9]+$/ }, (args) =>
      args.kind === 'import-statement'
        ? {
            path: args.path,
            namespace: 'builtin-require',
            suffix: `?${relative(from, args.importer)}`,
          }
        : { path: args.path, external: true },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});\n`,
      loader: 'js',
    }));
  },
};

/**
 * A stand-in module for `specifier` where an importer matching `importer` imports it (CommonJS
 * source from `contents`); every other importer gets the real module, which a stand-in's own
 * require() also resolves to (from the project).
 */
function standIn(name: string, specifier: string, importer: RegExp, contents: () => string): Plugin {
  const exact = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
  return {
    name,
    setup(build) {
      build.onResolve({ filter: exact }, (args) =>
        importer.test(args.importer) ? { path: specifier, namespace: name } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: name }, () => ({
        resolveDir: build.initialOptions.absWorkingDir ?? process.cwd(),
        contents: contents(),
        loader: 'js',
      }));
    },
  };
}

/**
 * undici's HTTP/2 client reads ten constants of `node:http2` when it is evaluated, and every
 * undici Client evaluates it: node:http2 (and node:tls under it) was loaded by every sidecar. The
 * sidecar's upstream pools speak HTTP/1.1 only (`allowH2: false`), and the other undici clients
 * (provider calls, the operator's) would speak HTTP/2 only to an HTTPS server that offers it
 * (ALPN). Here undici's client gets those constants, read from node:http2 when the build runs,
 * and loads node:http2 itself with a first HTTP/2 session, if one ever comes
 * (test/sidecar/shipped-bundle.test.ts checks that an HTTPS upstream does not load it).
 */
const http2OnFirstSession = standIn(
  'http2-on-first-session',
  'node:http2',
  /undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/,
  () => {
    const { constants } = createRequire(import.meta.url)('node:http2') as {
      constants: Record<string, unknown>;
    };
    const used = [
      'HTTP2_HEADER_AUTHORITY',
      'HTTP2_HEADER_METHOD',
      'HTTP2_HEADER_PATH',
      'HTTP2_HEADER_SCHEME',
      'HTTP2_HEADER_CONTENT_LENGTH',
      'HTTP2_HEADER_EXPECT',
      'HTTP2_HEADER_STATUS',
      'HTTP2_HEADER_PROTOCOL',
      'NGHTTP2_NO_ERROR',
      'NGHTTP2_REFUSED_STREAM',
    ];
    const values = Object.fromEntries(
      used.map((name) => {
        if (constants[name] === undefined) throw new Error(`build: node:http2 has no constant ${name}`);
        return [name, constants[name]];
      }),
    );
    return `module.exports = {\n  constants: ${JSON.stringify(values)},\n  connect: (...args) => require('node:http2').connect(...args),\n};\n`;
  },
);

/**
 * prom-client's process CPU metric requires the OpenTelemetry API (about 50 modules, evaluated at
 * every start) for exemplars, which it reads only when exemplars are enabled; Gatehouse does not
 * enable them. Here that metric gets a stand-in that loads the real API when any of its names is
 * first read (it stays in the bundle, evaluated then). Any other importer gets the package itself.
 */
const otelOnFirstUse = standIn(
  'opentelemetry-on-first-use',
  '@opentelemetry/api',
  /prom-client[\\/]lib[\\/]metrics[\\/]processCpuTotal\.js$/,
  () =>
    [
      'let api;',
      "const real = () => (api ??= require('@opentelemetry/api'));",
      'module.exports = new Proxy({}, { get: (_, name) => real()[name] });',
      '',
    ].join('\n'),
);

/**
 * contract/api/precompiled-checks.ts holds no checks in the source; in the bundle it holds TypeBox's
 * compiled check of each schema a sidecar checks as it starts, generated now
 * (scripts/precompiled-checks.ts): a sidecar then neither interprets nor compiles those schemas
 * (a config of 1,000 policies: 27 ms of compiling at every start, docs/benchmarks.md).
 */
const precompiledChecks: Plugin = {
  name: 'precompiled-checks',
  setup(build) {
    build.onLoad({ filter: /[\\/]contract[\\/]api[\\/]precompiled-checks\.ts$/ }, async (args) => {
      const { precompiledChecksModule } = await import('./precompiled-checks.ts');
      return { contents: precompiledChecksModule(), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** Bundle settings of every shipped program: one ES module per entry with its dependencies. */
export const SHIPPED_BUNDLE = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Bundled CommonJS packages call require() for Node's own modules; ES modules have none.
  banner: {
    js: "import { createRequire as __gatehouseRequire } from 'node:module';\nconst require = __gatehouseRequire(import.meta.url);",
  },
  legalComments: 'none',
  // Without the source's layout and with shorter equivalent syntax (names kept, so stack frames still
  // name their functions; each chunk's source map places a frame in the source). V8 keeps the text
  // of every module it loaded for the functions it has yet to compile: the sidecar's were 1.9 MB of
  // its heap, now 27% less. Idle RSS 67.7 against 68.3 MiB from a file, 73.1 against 73.4 in a
  // cluster; 1 MiB less at rest (bench/sidecar-start.ts --against, docs/benchmarks.md).
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [http2OnFirstSession, otelOnFirstUse, precompiledChecks, builtinsThroughRequire],
} satisfies BuildOptions;
