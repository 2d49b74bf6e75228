import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const ann = request({ identity: user() });

/** The `claim` selector (sidecar/src/policy/selectors/claim.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  [
    'equals string',
    { claim: { name: 'dept', equals: 'eng' } },
    request({ identity: user({ claims: { dept: 'eng' } }) }),
    true,
  ],
  [
    'equals number as text',
    { claim: { name: 'level', equals: '3' } },
    request({ identity: user({ claims: { level: 3 } }) }),
    true,
  ],
  [
    'equals boolean as text',
    { claim: { name: 'mfa', equals: 'true' } },
    request({ identity: user({ claims: { mfa: true } }) }),
    true,
  ],
  [
    'equals is exact',
    { claim: { name: 'dept', equals: 'eng' } },
    request({ identity: user({ claims: { dept: 'engineering' } }) }),
    false,
  ],
  [
    'equals on an array fails',
    { claim: { name: 'dept', equals: 'eng' } },
    request({ identity: user({ claims: { dept: ['eng'] } }) }),
    false,
  ],
  [
    'contains in array',
    { claim: { name: 'roles', contains: 'admin' } },
    request({ identity: user({ claims: { roles: ['dev', 'admin'] } }) }),
    true,
  ],
  [
    'contains word of a string',
    { claim: { name: 'scope', contains: 'write' } },
    request({ identity: user({ claims: { scope: 'read write' } }) }),
    true,
  ],
  [
    'contains is not substring',
    { claim: { name: 'scope', contains: 'writ' } },
    request({ identity: user({ claims: { scope: 'read write' } }) }),
    false,
  ],
  ['missing claim', { claim: { name: 'dept', equals: 'eng' } }, ann, false],
  ['inherited property is not a claim', { claim: { name: 'constructor', contains: 'x' } }, ann, false],
];

selectorTable('claim', CASES);
