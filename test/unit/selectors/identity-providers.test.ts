import { serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const ann = request({ identity: user() });

/** The `identityProviders` selector (sidecar/src/policy/selectors/identity-providers.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['listed', { identityProviders: ['corp'] }, ann, true],
  ['other provider', { identityProviders: ['github'] }, ann, false],
  [
    'machine has none',
    { identityProviders: ['corp'] },
    request({ identity: serviceTokenIdentity('ci') }),
    false,
  ],
];

selectorTable('identityProviders', CASES);
