import { describe, expect, it } from 'vitest';
import { attachDashValues, parseCommandLine } from '../../lib/command-line.ts';

const OPTIONS = {
  session: { type: 'string' },
  app: { type: 'string', multiple: true },
  namespace: { type: 'string', short: 'n' },
  all: { type: 'boolean', short: 'A' },
} as const;

describe('values that begin with a dash', () => {
  it.each([
    ['a long option', ['--session', '-Xy'], ['--session=-Xy']],
    ['a short option', ['-n', '-team'], ['--namespace=-team']],
    ['a value already attached', ['--session=-Xy'], ['--session=-Xy']],
    ['a value without a dash', ['--session', 'Xy', '--app', 'a'], ['--session', 'Xy', '--app', 'a']],
    ['a boolean takes no value', ['-A', '-x'], ['-A', '-x']],
    ['another option of the command is no value', ['--session', '--app', 'a'], ['--session', '--app', 'a']],
    ['nor with its value attached', ['--session', '--app=a'], ['--session', '--app=a']],
    ['nor a short one', ['--session', '-n', 'x'], ['--session', '-n', 'x']],
    ['nor the end of the options', ['--session', '--', '-x'], ['--session', '--', '-x']],
    ['a lone dash is left to parseArgs', ['--session', '-'], ['--session', '-']],
    ['after the end of options nothing changes', ['--', '--session', '-x'], ['--', '--session', '-x']],
    ['repeated', ['--app', '-a', '--app', '-b'], ['--app=-a', '--app=-b']],
    ['an unknown option stays for parseArgs to refuse', ['--nope', '-x'], ['--nope', '-x']],
  ] as const)('%s', (_what, argv, expected) => {
    expect(attachDashValues(argv, OPTIONS)).toEqual(expected);
  });

  it('parse as values; a forgotten value is still refused', () => {
    expect(
      parseCommandLine({ args: ['--session', '-Xy', '-n', '-t'], options: OPTIONS, strict: true }).values,
    ).toEqual({ session: '-Xy', namespace: '-t' });
    expect(() =>
      parseCommandLine({ args: ['--session', '-n', 't'], options: OPTIONS, strict: true }),
    ).toThrow(/ambiguous/);
    expect(() => parseCommandLine({ args: ['--nope', '-x'], options: OPTIONS, strict: true })).toThrow(
      /Unknown option '--nope'/,
    );
  });
});
