import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const through = (privateEndpoint: string) => request({ privateEndpoint });

/** The `privateEndpoints` selector (sidecar/src/policy/selectors/private-endpoints.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['an AWS endpoint listed', { privateEndpoints: ['aws:vpce-0a1b2c'] }, through('aws:vpce-0a1b2c'), true],
  ['another AWS endpoint', { privateEndpoints: ['aws:vpce-0a1b2c'] }, through('aws:vpce-0ffff'), false],
  ['an Azure LinkID listed', { privateEndpoints: ['azure:305419896'] }, through('azure:305419896'), true],
  [
    'a GCP connection listed',
    { privateEndpoints: ['gcp:18446744073709551615'] },
    through('gcp:18446744073709551615'),
    true,
  ],
  ['the same number from another cloud', { privateEndpoints: ['azure:7'] }, through('gcp:7'), false],
  ['compared exactly (case)', { privateEndpoints: ['aws:VPCE-0A1B2C'] }, through('aws:vpce-0a1b2c'), false],
  ['a connection without one', { privateEndpoints: ['aws:vpce-0a1b2c'] }, request(), false],
];

selectorTable('privateEndpoints', CASES);
