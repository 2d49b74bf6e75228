import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { CONFIG_RECEIVED_REASON, podWaitingEvents } from '../../operator/src/delivery/pod-waiting-events.ts';

// What `kubectl describe pod` shows of a sidecar that waits for its config: one Warning per pod
// and reason, a Normal one when the config comes, and never more Events than the rate allows.

interface Recorded {
  readonly pod: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
}

function recorder() {
  const recorded: Recorded[] = [];
  return {
    recorded,
    record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string) {
      expect(object).toMatchObject({ apiVersion: 'v1', kind: 'Pod' });
      recorded.push({ pod: `${object.metadata.namespace}/${object.metadata.name}`, type, reason, message });
    },
  };
}

const pod = (n: number) => ({ namespace: 'shop', name: `web-${n}`, uid: `uid-${n}` });

describe('podWaitingEvents', () => {
  it('tells a pod once per reason, and once that its config came', () => {
    const events = recorder();
    const told = podWaitingEvents(events);
    told.configured(pod(1)); // never told to wait: nothing to say
    told.waiting(pod(1), 'ApplicationNotFound', 'no AccessApplication web in namespace shop');
    told.waiting(pod(1), 'ApplicationNotFound', 'no AccessApplication web in namespace shop'); // a reconnect
    told.waiting(pod(2), 'ApplicationNotFound', 'no AccessApplication web in namespace shop');
    told.waiting(pod(1), 'ProviderSecretMissing', 'Secret web-oidc not found');
    told.configured(pod(1));
    told.configured(pod(1)); // the next config of the same pod
    expect(events.recorded).toEqual([
      {
        pod: 'shop/web-1',
        type: 'Warning',
        reason: 'ApplicationNotFound',
        message: 'The gatehouse sidecar has no config yet: no AccessApplication web in namespace shop',
      },
      expect.objectContaining({ pod: 'shop/web-2', reason: 'ApplicationNotFound' }),
      expect.objectContaining({ pod: 'shop/web-1', type: 'Warning', reason: 'ProviderSecretMissing' }),
      expect.objectContaining({ pod: 'shop/web-1', type: 'Normal', reason: CONFIG_RECEIVED_REASON }),
    ]);
  });

  it('says so when the sidecar keeps serving the config it had (its application was deleted)', () => {
    const events = recorder();
    podWaitingEvents(events).waiting(pod(1), 'ApplicationNotFound', 'no AccessApplication web', true);
    expect(events.recorded[0]?.message).toBe(
      'The gatehouse sidecar keeps serving its last config: no AccessApplication web',
    );
  });

  it('writes no more Events than its rate across pods, and tells a pod dropped then once there is room', () => {
    const events = recorder();
    let now = 0;
    const told = podWaitingEvents(events, { rate: { burst: 3, perSecond: 1 }, now: () => now });
    for (let n = 0; n < 1_000; n++) told.waiting(pod(n), 'ApplicationNotFound', 'missing');
    expect(events.recorded.map((e) => e.pod)).toEqual(['shop/web-0', 'shop/web-1', 'shop/web-2']);
    now += 1_000;
    told.waiting(pod(500), 'ApplicationNotFound', 'missing');
    told.waiting(pod(501), 'ApplicationNotFound', 'missing');
    expect(events.recorded.map((e) => e.pod).slice(3)).toEqual(['shop/web-500']);
  });

  it('tells a pod still waiting again after the repeat time', async () => {
    const events = recorder();
    const told = podWaitingEvents(events, { repeatMs: 50 });
    told.waiting(pod(1), 'KeysPending', 'the signing keys are being made');
    told.waiting(pod(1), 'KeysPending', 'the signing keys are being made');
    await new Promise((resolve) => setTimeout(resolve, 80));
    told.waiting(pod(1), 'KeysPending', 'the signing keys are being made');
    expect(events.recorded.map((e) => e.reason)).toEqual(['KeysPending', 'KeysPending']);
  });

  it('remembers a bounded number of pods', () => {
    const events = recorder();
    const told = podWaitingEvents(events, { maxPods: 2, rate: { burst: 100, perSecond: 100 } });
    for (const n of [1, 2, 3, 1]) told.waiting(pod(n), 'ApplicationNotFound', 'missing');
    // The first pod was forgotten for the third: told again.
    expect(events.recorded.map((e) => e.pod)).toEqual([
      'shop/web-1',
      'shop/web-2',
      'shop/web-3',
      'shop/web-1',
    ]);
  });
});
