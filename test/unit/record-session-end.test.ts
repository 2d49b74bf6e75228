import { describe, expect, it } from 'vitest';
import type { SessionEnd } from '../../contract/session-ends.ts';
import {
  SESSION_END_ACCOUNT_LABEL,
  sessionEndAccount,
  sessionEndRevocationName,
} from '../../contract/session-ends.ts';
import { KubeApiError } from '../../lib/kube/kube-errors.ts';
import { sessionEndRecorder } from '../../operator/src/delivery/record-session-end.ts';
import type { SidecarIdentity } from '../../operator/src/delivery/sidecar-identity.ts';

const identity = { namespace: 'shop', application: 'wiki', pod: 'wiki-1' } as SidecarIdentity;
const signOut: SessionEnd = {
  session: 'AAAAAAAAAAAAAAAAAAAAAA',
  before: 1_700_000_000,
  reason: 'signed out',
};

/** A recorder over an API server stand-in that answers create with `answer`. */
function recorder(answer: () => Promise<unknown>) {
  const created: { name?: string; spec?: unknown; labels?: Record<string, string> | undefined }[] = [];
  const lines: Record<string, unknown>[] = [];
  let written = 0;
  const record = sessionEndRecorder({
    client: {
      create: async <T>(_resource: unknown, _ns: unknown, body: object) => {
        const { metadata, spec } = body as {
          metadata: { name: string; labels?: Record<string, string> };
          spec: unknown;
        };
        created.push({ name: metadata.name, spec, labels: metadata.labels });
        return (await answer()) as T;
      },
    },
    log: ((_type: string, fields: Record<string, unknown>) => lines.push(fields)) as never,
    written: () => {
      written++;
    },
  });
  return { record, created, lines, written: () => written };
}

describe('recording a session end', () => {
  it('names the AccessRevocation after the end and its application', async () => {
    const r = recorder(async () => ({}));
    expect(await r.record(identity, signOut, performance.now())).toBe(
      sessionEndRevocationName(signOut, 'shop/wiki'),
    );
    expect(r.created[0]?.name).toMatch(/^session-end-[0-9a-f]{20}$/);
    expect(r.written()).toBe(1);
    expect(r.lines).toMatchObject([{ app: 'shop/wiki', pod: 'wiki-1', already: false }]);
  });

  it('labels the AccessRevocation with the account the sidecar named (the operator counts them), none when it named none', async () => {
    const r = recorder(async () => ({}));
    const account = sessionEndAccount('corp', 'ada');
    await r.record(identity, signOut, performance.now(), account);
    await r.record(identity, { ...signOut, session: 'BBBBBBBBBBBBBBBBBBBBBB' }, performance.now());
    expect(r.created.map((c) => c.labels)).toEqual([{ [SESSION_END_ACCOUNT_LABEL]: account }, undefined]);
  });

  it('an end sent again finds its AccessRevocation there (409 AlreadyExists): the same answer, nothing written', async () => {
    const r = recorder(async () => {
      throw new KubeApiError('conflict', 409, 'create AccessRevocation: 409 already exists');
    });
    expect(await r.record(identity, signOut, performance.now())).toBe(
      sessionEndRevocationName(signOut, 'shop/wiki'),
    );
    expect(r.written()).toBe(0);
    expect(r.lines).toMatchObject([{ already: true }]);
  });

  it('any other failure is the caller’s (the route answers 5xx and the sidecar tries again)', async () => {
    const r = recorder(async () => {
      throw new KubeApiError('unavailable', 503, 'create AccessRevocation: 503');
    });
    await expect(r.record(identity, signOut, performance.now())).rejects.toThrow(/503/);
    expect(r.lines).toEqual([]);
  });

  it.each<[string, SessionEnd, string, SessionEnd, string, boolean]>([
    [
      'the same session signed out twice',
      signOut,
      'shop/wiki',
      { ...signOut, reason: 'again' },
      'shop/wiki',
      true,
    ],
    ['the same end of another application', signOut, 'shop/wiki', signOut, 'shop/blog', false],
    [
      'the same user at two sign-in cut-offs',
      { subject: 'ada', provider: 'corp', before: 1, reason: 'x' },
      'shop/wiki',
      { subject: 'ada', provider: 'corp', before: 2, reason: 'x' },
      'shop/wiki',
      false,
    ],
    [
      'a provider session at two providers',
      { providerSession: 'ps', provider: 'a', before: 1, reason: 'x' },
      'shop/wiki',
      { providerSession: 'ps', provider: 'b', before: 1, reason: 'x' },
      'shop/wiki',
      false,
    ],
  ])('names: %s', (_what, a, appA, b, appB, same) => {
    expect(sessionEndRevocationName(a, appA) === sessionEndRevocationName(b, appB)).toBe(same);
  });
});
