import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * The examples of docs/authentication.md that verify the identity JWT in an application
 * (examples/verify-jwt/go, python, java and node), built as a user would build them: the Go program
 * with the Go toolchain through the module proxy, the Python one in a virtual environment with its
 * requirements from PyPI, the Java one with its library from Maven Central, the Node.js one with
 * its lockfile from npm. Each is built once per version of its sources, into the cache
 * outside the repository where the other tools go (GATEHOUSE_CACHE, default ~/.cache/gatehouse).
 */

const EXAMPLES = resolve(import.meta.dirname, '../../examples/verify-jwt');
const cacheRoot = (): string => process.env.GATEHOUSE_CACHE ?? join(homedir(), '.cache/gatehouse');

export type VerifierLanguage = 'go' | 'python' | 'java' | 'node';

/** The one library of the Java example, from Maven Central, pinned by its digest. */
const NIMBUS = {
  url: 'https://repo1.maven.org/maven2/com/nimbusds/nimbus-jose-jwt/10.10/nimbus-jose-jwt-10.10.jar',
  sha256: '0edd2fbaab79e13f87d145d021f85a5c59956b2b6b5e761c0d664c87f94cda15',
};

/** A digest of these files of a folder: what is built from them is cached under it. */
function digestOf(dir: string, names: readonly string[]): string {
  const hash = createHash('sha256');
  for (const name of names)
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(join(dir, name)))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}

function run(
  program: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  execFileSync(program, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** The Go example's binary. */
function goProgram(): string[] {
  const dir = join(EXAMPLES, 'go');
  const out = join(cacheRoot(), 'verify-jwt-go', digestOf(dir, ['go.mod', 'go.sum', 'main.go']));
  const binary = join(out, 'verify-jwt');
  if (!existsSync(binary)) {
    mkdirSync(out, { recursive: true });
    run('go', ['build', '-o', `${binary}.partial`, '.'], dir, { ...process.env, CGO_ENABLED: '0' });
    renameSync(`${binary}.partial`, binary);
  }
  return [binary];
}

/** The Python example run by a virtual environment's interpreter that has its requirements. */
function pythonProgram(): string[] {
  const dir = join(EXAMPLES, 'python');
  const venv = join(cacheRoot(), 'verify-jwt-python', digestOf(dir, ['requirements.txt']));
  const python = join(venv, 'bin', 'python');
  if (!existsSync(join(venv, '.complete'))) {
    rmSync(venv, { recursive: true, force: true });
    run('python3', ['-m', 'venv', venv], dir);
    run(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', 'requirements.txt'],
      dir,
    );
    writeFileSync(join(venv, '.complete'), '');
  }
  return [python, join(dir, 'app.py')];
}

/** The Java example run by the JDK's source launcher, with its library fetched once into the cache. */
async function javaProgram(): Promise<string[]> {
  const jar = join(cacheRoot(), 'verify-jwt-java', NIMBUS.url.slice(NIMBUS.url.lastIndexOf('/') + 1));
  if (!existsSync(jar)) {
    const response = await fetch(NIMBUS.url);
    if (!response.ok) throw new Error(`${NIMBUS.url}: ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== NIMBUS.sha256) throw new Error(`${NIMBUS.url}: sha256 ${digest}, not ${NIMBUS.sha256}`);
    mkdirSync(dirname(jar), { recursive: true });
    writeFileSync(`${jar}.partial`, bytes);
    renameSync(`${jar}.partial`, jar);
  }
  return ['java', '-cp', jar, join(EXAMPLES, 'java', 'VerifyJwt.java')];
}

/**
 * The Node.js example with its dependencies installed from its lockfile (`npm ci`), in a folder of
 * the cache of its own: run from the repository, it would find the repository's node_modules
 * instead of its own.
 */
function nodeProgram(): string[] {
  const dir = join(EXAMPLES, 'node');
  const out = join(
    cacheRoot(),
    'verify-jwt-node',
    digestOf(dir, ['package.json', 'package-lock.json', 'server.mjs']),
  );
  if (!existsSync(join(out, '.complete'))) {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    for (const name of ['package.json', 'package-lock.json', 'server.mjs'])
      writeFileSync(join(out, name), readFileSync(join(dir, name)));
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], out);
    writeFileSync(join(out, '.complete'), '');
  }
  return [process.execPath, join(out, 'server.mjs')];
}

async function programOf(language: VerifierLanguage): Promise<string[]> {
  if (language === 'go') return goProgram();
  if (language === 'python') return pythonProgram();
  if (language === 'node') return nodeProgram();
  return javaProgram();
}

/** A running example application. */
export interface JwtVerifier {
  readonly url: string;
  /** What it wrote to standard error so far (its log: "refused: ..." per refused request). */
  readonly log: () => string;
  stop(): Promise<void>;
}

/** What an example is told: where the keys are, whose tokens it takes, where it listens. */
export interface VerifierSettings {
  readonly jwksUrl: string;
  readonly issuer: string;
  readonly audience: string;
  readonly port: number;
}

/** Builds the example when needed and starts it; resolves once it listens. */
export async function startJwtVerifier(
  language: VerifierLanguage,
  settings: VerifierSettings,
): Promise<JwtVerifier> {
  const [program, ...args] = (await programOf(language)) as [string, ...string[]];
  const child: ChildProcess = spawn(program, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      GATEHOUSE_JWKS_URL: settings.jwksUrl,
      GATEHOUSE_ISSUER: settings.issuer,
      GATEHOUSE_AUDIENCE: settings.audience,
      LISTEN: `127.0.0.1:${settings.port}`,
      PYTHONUNBUFFERED: '1',
    },
  });
  let log = '';
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  await new Promise<void>((listening, failed) => {
    const timer = setTimeout(
      () => failed(new Error(`the ${language} example did not listen in 20 s: ${log}`)),
      20_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('listening on')) {
        clearTimeout(timer);
        listening();
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      failed(new Error(`the ${language} example exited with ${code}: ${log}`));
    });
  });
  return {
    url: `http://127.0.0.1:${settings.port}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}
