import { serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const signedInWith = (acr: unknown) => request({ identity: user({ claims: { acr } }) });

/** The `acrValues` selector (sidecar/src/policy/selectors/acr-values.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['listed', { acrValues: ['phr', 'phrh'] }, signedInWith('phrh'), true],
  ['another class', { acrValues: ['phr'] }, signedInWith('pwd'), false],
  ['compared exactly (case-sensitive)', { acrValues: ['phr'] }, signedInWith('PHR'), false],
  ['a URN', { acrValues: ['urn:okta:loa:2fa:any'] }, signedInWith('urn:okta:loa:2fa:any'), true],
  ['the provider said none', { acrValues: ['phr'] }, request({ identity: user() }), false],
  ['an acr that is no string', { acrValues: ['phr'] }, signedInWith(['phr']), false],
  ['a number is not its text', { acrValues: ['1'] }, signedInWith(1), false],
  ['anonymous', { acrValues: ['phr'] }, request(), false],
  ['machine has none', { acrValues: ['phr'] }, request({ identity: serviceTokenIdentity('ci') }), false],
];

selectorTable('acrValues', CASES);
