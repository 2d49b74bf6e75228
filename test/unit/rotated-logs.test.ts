import { describe, expect, it } from 'vitest';
import { rotationSeries } from '../../audit/src/rotated-logs.ts';

describe('rotationSeries', () => {
  it.each<[string, string[], string[][]]>([
    ['a file alone', ['a.jsonl'], [['a.jsonl']]],
    ['a live log without rotated files', ['p/0.log', 'p/1.log'], [['p/0.log'], ['p/1.log']]],
    [
      'a series in path order (the live file sorts first)',
      ['p/0.log', 'p/0.log.20261121-070000.gz', 'p/0.log.20261121-080000.gz', 'p/0.log.20261121-090000'],
      [['p/0.log.20261121-070000.gz', 'p/0.log.20261121-080000.gz', 'p/0.log.20261121-090000', 'p/0.log']],
    ],
    [
      'a series given newest first',
      ['p/0.log.20261121-090000', 'p/0.log', 'p/0.log.20261121-070000.gz'],
      [['p/0.log.20261121-070000.gz', 'p/0.log.20261121-090000', 'p/0.log']],
    ],
    [
      'rotated files without their live file',
      ['p/0.log.20261121-080000.gz', 'p/0.log.20261121-070000.gz'],
      [['p/0.log.20261121-070000.gz', 'p/0.log.20261121-080000.gz']],
    ],
    [
      'one rotated file both plain and compressed: read once, plain',
      ['p/0.log.20261121-070000', 'p/0.log.20261121-070000.gz', 'p/0.log'],
      [['p/0.log.20261121-070000', 'p/0.log']],
    ],
    [
      'the instances of a container (0.log, 1.log) and other pods apart, in the place of their first file',
      ['a/0.log', 'a/0.log.20261121-070000.gz', 'a/1.log', 'b/0.log.20261121-070000', 'b/0.log', 'x.jsonl'],
      [
        ['a/0.log.20261121-070000.gz', 'a/0.log'],
        ['a/1.log'],
        ['b/0.log.20261121-070000', 'b/0.log'],
        ['x.jsonl'],
      ],
    ],
    [
      'paths spelled as given (a relative file and its rotated ones)',
      ['0.log.20261121-070000.gz', '0.log'],
      [['0.log.20261121-070000.gz', '0.log']],
    ],
    [
      'not a kubelet rotation: another stamp, a file being compressed, a name without .log',
      ['p/0.log.1', 'p/0.log.20261121-070000.gz.tmp', 'p/app.20261121-070000.gz', 'p/0.log'],
      [['p/0.log.1'], ['p/0.log.20261121-070000.gz.tmp'], ['p/app.20261121-070000.gz'], ['p/0.log']],
    ],
    ['standard input', ['-'], [['-']]],
  ])('%s', (_case, paths, groups) => {
    expect(rotationSeries(paths)).toEqual(groups);
  });
});
