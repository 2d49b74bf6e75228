import { serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const ann = request({ identity: user() });

/** The `serviceTokens` selector (sidecar/src/policy/selectors/service-tokens.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  [
    'listed token',
    { serviceTokens: ['ci', 'backup'] },
    request({ identity: serviceTokenIdentity('ci') }),
    true,
  ],
  ['other token', { serviceTokens: ['backup'] }, request({ identity: serviceTokenIdentity('ci') }), false],
  ['a user is not a token', { serviceTokens: ['ci'] }, ann, false],
];

selectorTable('serviceTokens', CASES);
