import { serviceAccountIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const ann = request({ identity: user() });

/** The `groups` selector (sidecar/src/policy/selectors/groups.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['member', { groups: ['ops', 'admins'] }, request({ identity: user({ groups: ['dev', 'admins'] }) }), true],
  ['case-sensitive', { groups: ['Admins'] }, request({ identity: user({ groups: ['admins'] }) }), false],
  ['no groups', { groups: ['admins'] }, ann, false],
  [
    'ServiceAccount groups',
    { groups: ['system:serviceaccounts:ci'] },
    request({ identity: serviceAccountIdentity('ci', 'runner') }),
    true,
  ],
];

selectorTable('groups', CASES);
