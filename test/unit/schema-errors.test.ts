import { describe, expect, it } from 'vitest';
import { AccessApplication } from '../../contract/api/access-application.ts';
import { AccessPolicy } from '../../contract/api/access-policy.ts';
import { schemaErrors } from '../../contract/api/validate.ts';

const policy = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'gatehouse.dev/v1alpha1',
  kind: 'AccessPolicy',
  metadata: { name: 'p' },
  spec,
  ...extra,
});

const CASES: [string, unknown][] = [
  ['valid', policy({ decision: 'allow', include: [{ groups: ['eng'] }] })],
  ['valid with paths', policy({ decision: 'deny', include: [{ paths: ['/admin/**'] }], mode: 'audit' })],
  ['unknown decision', policy({ decision: 'maybe', include: [{ everyone: true }] })],
  ['wrong type', policy({ decision: 'allow', include: 'everyone' })],
  ['unknown field', policy({ decision: 'allow', include: [{ everyone: true }], incude: [] })],
  ['missing spec', policy(undefined)],
  [
    'bad name',
    { ...policy({ decision: 'allow', include: [{ everyone: true }] }), metadata: { name: 'Not_A_Name' } },
  ],
  ['not an object', 'policy'],
];

describe('schemaErrors', () => {
  // Interpreted for the first checks of a schema, compiled after: both must say the same.
  it('gives the same answer for every value before and after the schema is compiled', () => {
    const first = CASES.map(([, value]) => schemaErrors(AccessPolicy, value, 'p.yaml#1'));
    expect(first[0]).toEqual([]);
    expect(first[1]).toEqual([]);
    for (const errors of first.slice(2)) expect(errors.length).toBeGreaterThan(0);
    for (let round = 0; round < 40; round++)
      CASES.forEach(([name, value], i) => {
        expect(schemaErrors(AccessPolicy, value, 'p.yaml#1'), `${name}, round ${round}`).toEqual(first[i]);
      });
  });

  it('a whole config counts as many documents as it holds: one large value compiles at once, and answers the same', () => {
    const app = {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name: 'a' },
      spec: {
        hosts: ['a.example.com'],
        upstream: { url: 'http://127.0.0.1:8080' },
        policies: [{ name: 'p' }],
      },
    };
    const broken = { ...app, spec: { ...app.spec, hosts: 'a.example.com' } };
    expect(schemaErrors(AccessApplication, app, 'a.yaml#1', 1000)).toEqual([]);
    expect(schemaErrors(AccessApplication, broken, 'a.yaml#1', 1000)).toEqual([
      { path: 'a.yaml#1 spec.hosts', message: 'must be array (got string)' },
    ]);
  });
});
