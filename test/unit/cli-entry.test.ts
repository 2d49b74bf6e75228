import { readFileSync } from 'node:fs';
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
