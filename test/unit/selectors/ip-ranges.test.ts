import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();

/** The `ipRanges` selector (sidecar/src/policy/selectors/ip-ranges.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['IPv4 in range', { ipRanges: ['203.0.113.0/24'] }, anon, true],
  ['IPv4 outside', { ipRanges: ['198.51.100.0/24'] }, anon, false],
  ['single address', { ipRanges: ['203.0.113.7'] }, anon, true],
  ['IPv6 in range', { ipRanges: ['2001:db8::/32'] }, request({ clientIp: '2001:db8:1::5' }), true],
  ['IPv6 outside', { ipRanges: ['2001:db8::/32'] }, request({ clientIp: '2001:db9::5' }), false],
  [
    'IPv4-mapped IPv6 counts as IPv4',
    { ipRanges: ['203.0.113.0/24'] },
    request({ clientIp: '::ffff:203.0.113.7' }),
    true,
  ],
  ['no client IP', { ipRanges: ['0.0.0.0/0'] }, request({ clientIp: '' }), false],
];

selectorTable('ipRanges', CASES);
