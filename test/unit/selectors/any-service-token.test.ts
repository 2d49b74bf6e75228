import { serviceAccountIdentity, serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();

/** The `anyServiceToken` selector (sidecar/src/policy/selectors/any-service-token.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['token', { anyServiceToken: true }, request({ identity: serviceTokenIdentity('ci') }), true],
  [
    'ServiceAccount is not a token',
    { anyServiceToken: true },
    request({ identity: serviceAccountIdentity('ci', 'a') }),
    false,
  ],
  ['anonymous', { anyServiceToken: true }, anon, false],
];

selectorTable('anyServiceToken', CASES);
