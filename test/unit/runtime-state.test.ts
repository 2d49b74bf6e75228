import { describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import { compileRuntimeState } from '../../sidecar/src/runtime-state.ts';
import { DEFAULT_CLIENT_LIMITS } from '../../sidecar/src/server.ts';
import { testConfig, testRevocation } from '../helpers/fixtures.ts';

describe('compiling runtime state from a config', () => {
  it('keeps the compiled policies when the new config carries the same policy objects (a revocation)', async () => {
    const config = testConfig(
      { policies: [{ name: 'admins' }] },
      { admins: { decision: 'allow', include: [{ groups: ['admins'] }] } },
    );
    const first = compileRuntimeState(config, DEFAULT_CLIENT_LIMITS);
    const revoked = compileRuntimeState(
      withRevocations(config, [testRevocation('r1')]),
      DEFAULT_CLIENT_LIMITS,
      first,
    );
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

  it('compiles the policies again when only caseInsensitivePaths changes, and keeps the pool', async () => {
    const config = testConfig(
      { policies: [{ name: 'no-admin' }, { name: 'all' }] },
      {
        'no-admin': { decision: 'deny', include: [{ paths: ['/admin/**'] }] },
        all: { decision: 'allow', include: [{ everyone: true }] },
      },
    );
    const asSent = compileRuntimeState(config, DEFAULT_CLIENT_LIMITS);
    const folding = compileRuntimeState(
      { ...config, upstream: { ...config.upstream, caseInsensitivePaths: true } },
      DEFAULT_CLIENT_LIMITS,
      asSent,
    );
    expect(folding.upstream).toBe(asSent.upstream);
    const admin = {
      identity: null,
      clientIp: '203.0.113.7',
      privateEndpoint: null,
      path: '/ADMIN',
      method: 'GET',
    };
    expect(asSent.policy.evaluate(admin).decision.policy).toBe('all');
    expect(folding.policy.evaluate(admin).decision.policy).toBe('no-admin');
    await asSent.upstream.pool.close();
  });
});
