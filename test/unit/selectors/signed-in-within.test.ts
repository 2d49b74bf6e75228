import { serviceTokenIdentity } from '../../../sidecar/src/auth/machine-identity.ts';
import { request, user } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

const now = Math.floor(Date.now() / 1000);
const authenticated = (secondsAgo: number) => request({ identity: user({ authTime: now - secondsAgo }) });

/**
 * The `signedInWithin` selector (sidecar/src/policy/selectors/signed-in-within.ts): its cases, run
 * as the engine runs it. The window takes 30 s more: openid-client's tolerance for `auth_time`.
 */
const CASES: SelectorCase[] = [
  ['just now', { signedInWithin: '5m' }, authenticated(0), true],
  ['inside the window', { signedInWithin: '5m' }, authenticated(299), true],
  ['past the window, inside the tolerance', { signedInWithin: '5m' }, authenticated(320), true],
  ['past the window and the tolerance', { signedInWithin: '5m' }, authenticated(340), false],
  ['an hour ago, a window of two hours', { signedInWithin: '2h' }, authenticated(3600), true],
  ['an hour ago, a window of 1h30m', { signedInWithin: '1h30m' }, authenticated(3600), true],
  ['an hour ago, a window of 30m', { signedInWithin: '30m' }, authenticated(3600), false],
  ['the provider never said when', { signedInWithin: '720h' }, request({ identity: user() }), false],
  [
    'a machine caller has no sign-in',
    { signedInWithin: '720h' },
    request({ identity: { ...serviceTokenIdentity('ci'), authTime: now } }),
    false,
  ],
  ['anonymous', { signedInWithin: '5m' }, request(), false],
];

selectorTable('signedInWithin', CASES);
