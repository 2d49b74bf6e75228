import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();

/** The `methods` selector (sidecar/src/policy/selectors/methods.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['listed', { methods: ['GET', 'HEAD'] }, anon, true],
  ['not listed', { methods: ['POST'] }, anon, false],
  ['case-sensitive', { methods: ['GET'] }, request({ method: 'get' }), false],
];

selectorTable('methods', CASES);
