import { describe, expect, it } from 'vitest';
import { OPERATOR_EVENTS } from '../../contract/operator-events.ts';
import { operatorLineProblems } from '../helpers/log-line-check.ts';

// The schema the operator's lines are checked against in every test that runs an operator: it
// must refuse what a careless change would write.

const time = '2026-12-05T10:00:00.000Z';
const started = {
  time,
  type: 'operator_started',
  namespace: 'gatehouse-system',
  deliveryPort: 8443,
  adminPort: 9090,
  pid: 7,
};

describe("the operator's log line schema", () => {
  it.each([
    ['a line as written', started, []],
    [
      'an optional field left out',
      { time, type: 'watch_restarted', resource: 'pods', reason: 'stalled' },
      [],
    ],
    [
      'a field it does not list',
      { ...started, token: 'x' },
      ['/token: schema is false', '/: must not have additional properties'],
    ],
    ['a missing field', { time, type: 'leader_elected' }, ['/: must have required properties identity']],
    ['a wrong type', { ...started, pid: '7' }, ['/pid: must be integer']],
    [
      'a value outside its enum',
      { time, type: 'watch_restarted', resource: 'pods', reason: 'resync' },
      ['/reason: must be equal to one of the allowed values'],
    ],
    ['a type with no schema', { time, type: 'operator_exploded' }, ['no schema for type operator_exploded']],
  ])('%s', (_what, line, problems) => {
    expect(operatorLineProblems(line)).toEqual(problems);
  });

  it('every event has a description and documented fields', () => {
    for (const [type, spec] of Object.entries(OPERATOR_EVENTS)) {
      expect(spec.description, type).toMatch(/\.$/);
      for (const [name, field] of Object.entries(spec.fields))
        expect((field as { description?: string }).description, `${type}.${name}`).toBeTruthy();
    }
  });
});
