import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const anon = request();
const ann = request({ identity: user() });

/** The `everyone` selector (sidecar/src/policy/selectors/everyone.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['anonymous', { everyone: true }, anon, true],
  ['user', { everyone: true }, ann, true],
];

selectorTable('everyone', CASES);
