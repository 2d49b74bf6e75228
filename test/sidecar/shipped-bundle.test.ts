import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import {
  applicationYaml,
  copyShippedApp,
  loopbackAppDir,
  outputOf,
  SIDECAR_ENV,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * What ships is dist/ (scripts/build.ts): the image copies it with package.json and nothing else.
 * These run it from such a copy, and check what each command loads.
 */

// Records every module file the process loads and every Node.js module its code asks for
// (module.registerHooks sees static and dynamic imports and require()), and at exit the modules
// inside Node.js that were loaded (as internal:<name>: what a public module loads for it).
// (Through getBuiltinModule: an import of node:fs would itself load what is checked below.)
const LOAD_RECORDER = `const { registerHooks } = process.getBuiltinModule('node:module');
const { appendFileSync } = process.getBuiltinModule('node:fs');
registerHooks({
  load(url, context, next) {
    if (url.startsWith('file:') || url.startsWith('node:'))
      appendFileSync(process.env.GATEHOUSE_TEST_LOADED, url + '\\n');
    return next(url, context);
  },
});
process.on('exit', () => {
  const inside = process.moduleLoadList
    .filter((entry) => entry.startsWith('NativeModule internal/'))
    .map((entry) => 'internal:' + entry.slice('NativeModule internal/'.length) + '\\n');
  appendFileSync(process.env.GATEHOUSE_TEST_LOADED, inside.join(''));
});
`;

let shipped: string;
let recorder: string;
let upstream: TestUpstream;

beforeAll(async () => {
  shipped = copyShippedApp();
  recorder = join(mkdtempSync(join(tmpdir(), 'gatehouse-recorder-')), 'record-loads.mjs');
  writeFileSync(recorder, LOAD_RECORDER);
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream.close();
});

/** The lines of a load list (the recorder's file). */
const lines = (list: string) => readFileSync(list, 'utf8').trim().split('\n');

/** The Node.js modules a command's code asked for (`node:tls`, ...). */
const builtins = (list: string) => new Set(lines(list).filter((url) => url.startsWith('node:')));

/** The modules inside Node.js that a command loaded (`fs/promises`, ...), read once it has exited. */
const internals = (list: string) =>
  new Set(
    lines(list)
      .filter((line) => line.startsWith('internal:'))
      .map((line) => line.slice('internal:'.length)),
  );

/**
 * The source files whose code a bundled file holds, as paths from the repository's root
 * (`sidecar/src/server.ts`, `node_modules/undici/...`): the bundle is minified, so they are read
 * from the source map beside it (a chunk without one, such as the entry, holds none).
 */
function sourcesOf(path: string): string[] {
  const map = `${path}.map`;
  if (!existsSync(map)) return [];
  const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
  return sources.map((source) => relative(shipped, resolve(dirname(map), source)));
}

/** The files a command loaded, with their size and the sources they hold. */
function loaded(list: string): { path: string; bytes: number; sources: string[] }[] {
  return lines(list)
    .filter((url) => url.includes('/dist/'))
    .map((url) => {
      const path = new URL(url).pathname;
      return { path, bytes: statSync(path).size, sources: sourcesOf(path) };
    });
}

/** Whether any of the files holds code of a source path starting with `source`. */
const holds = (files: { sources: string[] }[], source: string) =>
  files.some((f) => f.sources.some((s) => s.startsWith(source)));

/** The `.js` files of a bundle: `dir` and its `chunks/`. */
function bundleFiles(dir: string): string[] {
  const files = (at: string) =>
    readdirSync(join(shipped, at))
      .filter((name) => name.endsWith('.js'))
      .map((name) => join(shipped, at, name));
  return [...files(dir), ...files(join(dir, 'chunks'))];
}

/**
 * A sidecar loads the entry and its own bundle (dist/bin/sidecar/, scripts/build.ts), nothing of
 * the commands' chunks, and few modules: spread over the chunks it shared with the other commands
 * it loaded 35 to 38, whose resolution alone made V8 optimise Node's path code at every start.
 */
function expectOwnBundle(files: { path: string }[]): void {
  const paths = files.map((f) => f.path.slice(f.path.indexOf('/dist/') + 1));
  expect(paths.filter((p) => p !== 'dist/bin/gatehouse.js' && !p.startsWith('dist/bin/sidecar/'))).toEqual(
    [],
  );
  expect(paths.length).toBeLessThanOrEqual(16); // 13 standalone when this was written
}

/** The text of a bundle's entry modules and chunks. */
const bundleCode = (dir: string) =>
  bundleFiles(dir)
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');

/** Starts the shipped sidecar with the load recorder; resolves once it has started. */
function startRecordedSidecar(sourceArgs: string[], list: string, env: Record<string, string> = {}) {
  return startSidecarProcess({ sourceArgs }, [], { ...env, GATEHOUSE_TEST_LOADED: list }, [
    '--import',
    recorder,
    join(shipped, 'dist/bin/gatehouse.js'),
  ]);
}

/**
 * One GET through a shipped sidecar in front of a TLS upstream whose certificate it trusts the way
 * an operator adds a private CA (NODE_EXTRA_CA_CERTS). Answers the response and the Node.js
 * modules the sidecar asked for; stops the sidecar and the upstream.
 */
async function getThroughTlsUpstream(
  upstreamServer: TlsServer,
  certFile: string,
  listName: string,
  path: string,
) {
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(upstreamServer.address() as AddressInfo).port}`;
  const dir = writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url } }));
  const list = join(shipped, listName);
  const sidecar = await startRecordedSidecar(['--config', dir], list, { NODE_EXTRA_CA_CERTS: certFile });
  try {
    const response = await fetch(`http://127.0.0.1:${sidecar.port}${path}`);
    return { status: response.status, text: await response.text(), asked: builtins(list) };
  } finally {
    await sidecar.stop();
    if ('closeAllConnections' in upstreamServer && typeof upstreamServer.closeAllConnections === 'function')
      upstreamServer.closeAllConnections();
    await new Promise((r) => upstreamServer.close(r));
  }
}

async function run(
  args: string[],
  list: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return outputOf(
    spawn(process.execPath, ['--import', recorder, join(shipped, 'dist/bin/gatehouse.js'), ...args], {
      cwd: shipped,
      env: { ...SIDECAR_ENV, GATEHOUSE_TEST_LOADED: list },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

describe('the shipped bundle', () => {
  it('--version runs from dist/ alone and loads no command', async () => {
    const list = join(shipped, 'version-loads.txt');
    const result = await run(['--version'], list);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^gatehouse \d+\.\d+\.\d+\n$/);
    const files = loaded(list);
    for (const source of ['sidecar/src/', 'operator/src/', 'audit/src/', 'node_modules/'])
      expect(holds(files, source), source).toBe(false);
  });

  it('ships the license of every package whose code is in either bundle', () => {
    const bundled = new Set<string>();
    for (const file of [...bundleFiles('dist/bin'), ...bundleFiles('dist/bin/sidecar')])
      for (const source of sourcesOf(file)) {
        const name = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source)?.[1];
        if (name) bundled.add(name);
      }
    expect(bundled.size).toBeGreaterThan(5);
    const licenses = readFileSync(join(shipped, 'dist/THIRD-PARTY-LICENSES.txt'), 'utf8');
    for (const name of bundled)
      expect(licenses, name).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
  });

  it.each([
    ['the commands', 'dist/bin'],
    ['the sidecar', 'dist/bin/sidecar'],
  ])(
    '%s bundle carries the config checks generated when it was built (scripts/precompiled-checks.ts)',
    (_, dir) => {
      const code = bundleCode(dir);
      // One factory per precompiled schema, each with its regular expressions written in.
      expect(code.match(/\(Guard, ?Hashing, ?Format\) ?=> ?\{/g)).toHaveLength(5);
      expect(code.match(/(?:const|let) External ?= ?\[/g)).toHaveLength(5);
    },
  );

  it('validate runs from dist/ alone', async () => {
    const dir = writeConfigDir(applicationYaml({ hosts: ['app.test'], upstream: { url: upstream.url } }));
    const result = await run(['validate', dir], join(shipped, 'validate-loads.txt'));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).application.name).toBe('proc-app');
  });

  it('the audit from dist/ alone loads no schema library: with typebox loaded, a 465 MB sessions --user took a tenth longer', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'gatehouse-audit-loads-')), 'a.log');
    writeFileSync(log, `${JSON.stringify({ type: 'request', time: '2026-11-21T07:00:00.000Z' })}\n`);
    const list = join(shipped, 'audit-loads.txt');
    const result = await run(['audit', 'sessions', '--user', 'ada@example.com', log], list);
    expect(result.stderr).toContain('no Gatehouse lines'); // it ran, and read the file
    const files = loaded(list);
    expect(holds(files, 'audit/src/audit-command.ts')).toBe(true);
    for (const source of [
      'node_modules/typebox/',
      'contract/session-ends.ts',
      'operator/src/',
      'sidecar/src/',
    ])
      expect(holds(files, source), source).toBe(false);
  });

  it('a sidecar from dist/ alone proxies, and loads neither the other commands nor what it does not use', async () => {
    const dir = loopbackAppDir(upstream.url);
    const list = join(shipped, 'sidecar-loads.txt');
    const sidecar = await startRecordedSidecar(['--config', dir], list);
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('ok GET /through');
      const files = loaded(list);
      expectOwnBundle(files);
      for (const source of [
        'operator/src/',
        'audit/src/',
        'lib/kube/kube-client.ts',
        'lib/kube/connection.ts',
        'sidecar/src/config/operator-source.ts',
        // The schemas of the log lines: the sidecar writes its events without building them.
        'contract/log-events.ts',
        'contract/log-line.ts',
        'node_modules/openid-client/',
        // undici's entry (everything it has) and its fetch; its pool lazily needs a few fetch helpers (bodies).
        'node_modules/undici/index.js',
        'node_modules/undici/lib/web/fetch/index.js',
        'node_modules/undici/lib/web/websocket/',
        'node_modules/undici/lib/mock/',
        // prom-client's entry: its Pushgateway loads node:https and node:zlib, its cluster aggregator node:cluster.
        'node_modules/prom-client/index.js',
        'node_modules/prom-client/lib/pushgateway.js',
        'node_modules/prom-client/lib/cluster.js',
      ])
        expect(holds(files, source), source).toBe(false);
      expect(holds(files, 'sidecar/src/config/file-source.ts')).toBe(true);
      // An HTTP/1.1 upstream over plain TCP needs no HTTP/2, TLS or compression (about 9 MiB idle).
      const asked = builtins(list);
      expect(asked.has('node:http')).toBe(true); // the recorder sees what the bundle asks for
      for (const name of ['node:http2', 'node:https', 'node:tls', 'node:zlib', 'node:cluster'])
        expect(asked.has(name), name).toBe(false);
      const bytes = files.reduce((n, f) => n + f.bytes, 0);
      // V8 keeps the text of every module loaded for as long as the process runs. 2.04 MB when this
      // was written, 2.30 MB on 2026-12-06 (features since, 15 KB in all, no package; js-yaml, the
      // config fast path's reader, about 130 KB), 1.75 MB minified (2026-12-07,
      // scripts/bundle-settings.ts). What this guards against is a whole package loaded by mistake
      // (undici's entry alone is 1.3 MB) or a bundle no longer minified, not a feature's few kilobytes.
      expect(bytes).toBeLessThan(1_900_000);
    } finally {
      await sidecar.stop();
    }
    // Modules inside Node.js that came with `import` of node:fs, node:crypto and node:net (an ES
    // module facade reads every export, getters included) and serve nothing the sidecar uses:
    // builtins are required instead (scripts/bundle-settings.ts), 12 fewer modules.
    const inside = internals(list);
    expect(inside.has('streams/readable')).toBe(true); // the recorder saw the exit
    for (const name of [
      'fs/promises',
      'fs/streams',
      'readline/interface',
      'repl/history',
      'crypto/webcrypto',
      'blocklist',
    ])
      expect(inside.has(name), name).toBe(false);
  });

  it('a sidecar from dist/ alone proxies to an HTTPS upstream (TLS loads with the first connection)', async () => {
    const tls = selfSignedCertificate();
    const secure = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      res.end(`tls ${req.method} ${req.url}`);
    });
    const through = await getThroughTlsUpstream(secure, tls.certFile, 'https-sidecar-loads.txt', '/secure');
    expect(through.status).toBe(200);
    expect(through.text).toBe('tls GET /secure');
    expect(through.asked.has('node:tls')).toBe(true);
  });

  it('a sidecar from dist/ alone speaks HTTP/1.1 to an HTTPS upstream: one that speaks only HTTP/2 is refused at the handshake (502), and node:http2 never loads', async () => {
    // The proxy relays HTTP/1.1 (WebSocket upgrades cannot go over HTTP/2): undici offered h2 and
    // spoke it to any upstream that took it; test/sidecar/upstream-tls.test.ts has one that offers both.
    const tls = selfSignedCertificate();
    const h2 = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: false }, (req, res) => {
      res.end(`h2 ${req.method} ${req.url} ${req.httpVersion}`);
    });
    const through = await getThroughTlsUpstream(h2, tls.certFile, 'h2-sidecar-loads.txt', '/two');
    expect(through.status).toBe(502);
    expect(JSON.parse(through.text)).toMatchObject({ error: 'upstream_unavailable' });
    expect(through.asked.has('node:tls')).toBe(true);
    expect(through.asked.has('node:http2')).toBe(false);
  });

  it('a cluster sidecar from dist/ alone proxies with its config from the operator, and loads no YAML parser', async () => {
    // A stand-in operator: one config line on the stream, then the stream stays open.
    const tls = selfSignedCertificate();
    const tokenFile = join(tls.certFile, '..', 'token');
    writeFileSync(tokenFile, 'pod-token');
    const config = testConfig({ hosts: ['127.0.0.1'], upstream: { url: upstream.url } });
    const operator: HttpsServer = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ type: 'config', config })}\n`);
    });
    await new Promise<void>((r) => operator.listen(0, '127.0.0.1', r));
    const operatorUrl = `https://127.0.0.1:${(operator.address() as AddressInfo).port}`;
    const list = join(shipped, 'cluster-sidecar-loads.txt');
    const sidecar = await startRecordedSidecar(
      ['--operator-url', operatorUrl, '--operator-ca', tls.certFile, '--token-file', tokenFile],
      list,
    );
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/through`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('ok GET /through');
      const files = loaded(list);
      expectOwnBundle(files);
      expect(holds(files, 'sidecar/src/config/operator-source.ts')).toBe(true);
      for (const source of [
        'node_modules/yaml/',
        'sidecar/src/config/file-source.ts',
        'contract/revocation-files.ts',
      ])
        expect(holds(files, source), source).toBe(false);
      const asked = builtins(list);
      expect(asked.has('node:tls')).toBe(true); // the operator's stream is HTTPS
      for (const name of ['node:http2', 'node:zlib', 'node:cluster'])
        expect(asked.has(name), name).toBe(false);
    } finally {
      await sidecar.stop();
      operator.closeAllConnections();
      await new Promise((r) => operator.close(r));
    }
  });
});
