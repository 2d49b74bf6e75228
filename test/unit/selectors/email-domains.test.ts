import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();
const ann = request({ identity: user() });

/** The `emailDomains` selector (sidecar/src/policy/selectors/email-domains.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['domain listed', { emailDomains: ['example.com'] }, ann, true],
  [
    'case-insensitive',
    { emailDomains: ['EXAMPLE.com'] },
    request({ identity: user({ email: 'ann@Example.COM' }) }),
    true,
  ],
  [
    'subdomain is not the domain',
    { emailDomains: ['example.com'] },
    request({ identity: user({ email: 'ann@sub.example.com' }) }),
    false,
  ],
  [
    'suffix trick',
    { emailDomains: ['example.com'] },
    request({ identity: user({ email: 'ann@evilexample.com' }) }),
    false,
  ],
  [
    'domain in the local part',
    { emailDomains: ['example.com'] },
    request({ identity: user({ email: 'example.com@evil.com' }) }),
    false,
  ],
  [
    'multi-@ rejected',
    { emailDomains: ['example.com'] },
    request({ identity: user({ email: 'a@evil.com@example.com' }) }),
    false,
  ],
  ['anonymous', { emailDomains: ['example.com'] }, anon, false],
];

selectorTable('emailDomains', CASES);
