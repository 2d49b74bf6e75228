import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();
const ann = request({ identity: user() });

/** The `emails` selector (sidecar/src/policy/selectors/emails.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['listed', { emails: ['ann@example.com'] }, ann, true],
  [
    'case-insensitive both ways',
    { emails: ['ANN@Example.COM'] },
    request({ identity: user({ email: 'Ann@EXAMPLE.com' }) }),
    true,
  ],
  ['not listed', { emails: ['bob@example.com'] }, ann, false],
  ['no email', { emails: ['ann@example.com'] }, request({ identity: user({ email: null }) }), false],
  ['anonymous', { emails: ['ann@example.com'] }, anon, false],
  [
    'two @ in the identity never matches',
    { emails: ['ann@example.com'] },
    request({ identity: user({ email: 'ann@example.com@evil.com' }) }),
    false,
  ],
  [
    'quoted local part never matches',
    { emails: ['"ann"@example.com'] },
    request({ identity: user({ email: '"ann"@example.com' }) }),
    false,
  ],
  [
    'trailing space is not trimmed',
    { emails: ['ann@example.com'] },
    request({ identity: user({ email: 'ann@example.com ' }) }),
    false,
  ],
  ['prefix is not a match', { emails: ['ann@example.co'] }, ann, false],
];

selectorTable('emails', CASES);
