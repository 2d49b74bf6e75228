import { describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import { compileRuntimeState } from '../../sidecar/src/runtime-state.ts';
import { DEFAULT_CLIENT_LIMITS } from '../../sidecar/src/server.ts';
import { testConfig } from '../helpers/fixtures.ts';

const revocation = {
  name: 'r1',
  user: 'ada@example.com',
  subject: null,
  provider: null,
  before: 1_790_000_000,
  reason: null,
};

describe('compiling runtime state from a config', () => {
  it('keeps the compiled policies when the new config carries the same policy objects (a revocation)', async () => {
    const config = testConfig(
      { policies: [{ name: 'admins' }] },
      { admins: { decision: 'allow', include: [{ groups: ['admins'] }] } },
    );
    const first = compileRuntimeState(config, DEFAULT_CLIENT_LIMITS);
    const revoked = compileRuntimeState(withRevocations(config, [revocation]), DEFAULT_CLIENT_LIMITS, first);
    expect(revoked.policy).toBe(first.policy);
    expect(revoked.revocations).not.toBe(first.revocations);
    expect(revoked.upstream).toBe(first.upstream);

    // Equal policies as other objects are compiled again: only the parser knows they were checked.
    const copied = compileRuntimeState(structuredClone(config), DEFAULT_CLIENT_LIMITS, revoked);
    expect(copied.policy).not.toBe(first.policy);
    const other = testConfig(
      { policies: [{ name: 'admins' }] },
      { admins: { decision: 'deny', include: [{ groups: ['admins'] }] } },
    );
    expect(compileRuntimeState(other, DEFAULT_CLIENT_LIMITS, copied).policy).not.toBe(copied.policy);
    await first.upstream.pool.close();
  });
});
