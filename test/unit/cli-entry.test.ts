import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGatehouse } from '../helpers/sidecar-process.ts';

// The command line as people type it: help and version the usual ways, every command's -h.

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('gatehouse', () => {
  it.each([['-h'], ['--help'], ['help']])('%s prints the commands, exit 0', async (flag) => {
    const { code, stdout, stderr } = await runGatehouse([flag]);
    expect(code).toBe(0);
    expect(stdout + stderr).toMatch(/^Usage: gatehouse <command>/);
    expect(stdout + stderr).toContain('revoke');
  });

  it.each([['-v'], ['--version'], ['version']])('%s prints the version', async (flag) => {
    const { code, stdout } = await runGatehouse([flag]);
    expect(code).toBe(0);
    expect(stdout).toBe(`gatehouse ${version}\n`);
  });

  it.each([['sidecar'], ['operator'], ['validate'], ['audit'], ['revoke'], ['service-token']])(
    '%s -h and --help print its options, exit 0',
    async (command) => {
      for (const flag of ['-h', '--help']) {
        const { code, stdout } = await runGatehouse([command, flag]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^Usage: gatehouse /);
      }
    },
  );

  it('an unknown command is refused with the list, exit 2', async () => {
    const { code, stderr } = await runGatehouse(['revok']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^gatehouse: unknown command "revok"/);
  });
});

describe('gatehouse revoke --revocations-dir that cannot take the revocation', () => {
  const revoke = (dir: string) =>
    runGatehouse(['revoke', '--user', 'alice@example.com', '--app', 'wiki', '--revocations-dir', dir]);

  it('a directory that does not exist: named, nothing revoked, exit 1', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gatehouse-revoke-')), 'revocations');
    const { code, stdout, stderr } = await revoke(dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `gatehouse revoke: --revocations-dir ${dir} does not exist: give the directory the standalone sidecars read (their --revocations-dir); nothing was revoked\n`,
    );
  });

  it('a file, or a path through one: not a directory, nothing written', async () => {
    const base = mkdtempSync(join(tmpdir(), 'gatehouse-revoke-'));
    const file = join(base, 'revocations');
    writeFileSync(file, '');
    for (const path of [file, join(file, 'inside')]) {
      const { code, stderr } = await revoke(path);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `gatehouse revoke: --revocations-dir ${path} is not a directory; nothing was revoked\n`,
      );
    }
    expect(readdirSync(base)).toEqual(['revocations']);
  });
});

describe('gatehouse validate -o where the config is', () => {
  const example = readFileSync(new URL('../../examples/standalone/app.yaml', import.meta.url), 'utf8');

  it('refuses to write the rendered config over the file it checks, or into its directory; the YAML stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-validate-'));
    const yaml = join(dir, 'app.yaml');
    writeFileSync(yaml, example);
    for (const [args, message] of [
      [[yaml, '-o', yaml], `-o ${yaml} is the config file ${yaml}: the rendered config would replace it`],
      [[dir, '-o', yaml], `-o ${yaml} is the config file ${yaml}: the rendered config would replace it`],
      [
        [dir, '-o', join(dir, 'rendered.json')],
        `-o ${join(dir, 'rendered.json')} is in the config directory ${dir}: the sidecar would read the rendered config as config`,
      ],
    ] as const) {
      const { code, stderr } = await runGatehouse(['validate', ...args]);
      expect(code).toBe(2);
      expect(stderr).toContain(`gatehouse validate: ${message}; write it elsewhere\n`);
    }
    expect(readFileSync(yaml, 'utf8')).toBe(example);
    expect(readdirSync(dir)).toEqual(['app.yaml']);
    // Next to the file, or in another directory, it is written.
    const rendered = join(dir, 'rendered.json');
    const { code } = await runGatehouse(['validate', yaml, '-o', rendered]);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(rendered, 'utf8'))).toMatchObject({ format: 1 });
  });
});
