import { describe, expect, it } from 'vitest';
import { RecoveryWait } from '../../lib/kube/recovery-wait.ts';

const elapsed = async (wait: Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await wait;
  return performance.now() - started;
};

describe('waiting for the API server to come back', () => {
  it('waits the whole delay while the API server does not answer', async () => {
    let probes = 0;
    const recovery = new RecoveryWait(async () => {
      probes++;
      return false;
    }, 10);
    expect(await elapsed(recovery.wait(200))).toBeGreaterThanOrEqual(195);
    expect(probes).toBeGreaterThan(5);
  });

  it('ends every wait within one probe interval of the first answer', async () => {
    let up = false;
    const recovery = new RecoveryWait(async () => up, 20);
    const waits = [recovery.wait(30_000), recovery.wait(30_000), recovery.wait(60_000)];
    setTimeout(() => {
      up = true;
    }, 100);
    const started = performance.now();
    expect(await Promise.all(waits)).toEqual([true, true, true]);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('a probe that throws counts as no answer', async () => {
    const recovery = new RecoveryWait(async () => {
      throw new Error('ECONNREFUSED');
    }, 10);
    expect(await elapsed(recovery.wait(100))).toBeGreaterThanOrEqual(95);
  });

  it('ends at once on abort, and probes only while someone waits', async () => {
    let probes = 0;
    const recovery = new RecoveryWait(async () => {
      probes++;
      return false;
    }, 10);
    const abort = new AbortController();
    const waiting = recovery.wait(30_000, abort.signal);
    setTimeout(() => abort.abort(), 50);
    expect(await elapsed(waiting)).toBeLessThan(1_000);
    const after = probes;
    await new Promise((r) => setTimeout(r, 100));
    expect(probes - after).toBeLessThanOrEqual(1);
  });
});
