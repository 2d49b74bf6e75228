import { serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();
const ann = request({ identity: user() });

/** The `authenticated` selector (sidecar/src/policy/selectors/authenticated.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['anonymous', { authenticated: true }, anon, false],
  ['user', { authenticated: true }, ann, true],
  ['service token', { authenticated: true }, request({ identity: serviceTokenIdentity('ci') }), true],
];

selectorTable('authenticated', CASES);
