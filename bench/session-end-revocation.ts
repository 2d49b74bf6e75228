import type { Revocation } from '../contract/config/sidecar-config.ts';

/**
 * The AccessRevocation the operator records for the `i`th session end of a benchmark: one
 * session of one sign-out, as a sidecar's sign-out leaves it (about 160 bytes in a config).
 */
export const sessionEndRevocation = (i: number): Revocation => ({
  name: `session-end-${i.toString(36).padStart(6, '0')}`,
  user: null,
  subject: null,
  provider: null,
  session: `s${i.toString(16).padStart(31, '0')}`,
  before: 1_790_000_000 + i,
  reason: 'sign_out',
});
