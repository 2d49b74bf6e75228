import { serviceAccountIdentity, serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

/** The `serviceAccounts` selector (sidecar/src/policy/selectors/service-accounts.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  [
    'exact',
    { serviceAccounts: [{ namespace: 'ci', name: 'runner' }] },
    request({ identity: serviceAccountIdentity('ci', 'runner') }),
    true,
  ],
  [
    'other namespace',
    { serviceAccounts: [{ namespace: 'ci', name: 'runner' }] },
    request({ identity: serviceAccountIdentity('prod', 'runner') }),
    false,
  ],
  [
    'any name',
    { serviceAccounts: [{ namespace: 'ci', name: '*' }] },
    request({ identity: serviceAccountIdentity('ci', 'x') }),
    true,
  ],
  [
    'name prefix',
    { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] },
    request({ identity: serviceAccountIdentity('ci', 'build-7') }),
    true,
  ],
  [
    'name prefix miss',
    { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] },
    request({ identity: serviceAccountIdentity('ci', 'deploy') }),
    false,
  ],
  [
    'a token is not a ServiceAccount',
    { serviceAccounts: [{ namespace: 'ci', name: '*' }] },
    request({ identity: serviceTokenIdentity('ci') }),
    false,
  ],
];

selectorTable('serviceAccounts', CASES);
