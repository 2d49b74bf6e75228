import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_REVOCATIONS } from '../../contract/config/sidecar-config.ts';
import { writeRevocationFile } from '../../contract/revocation-files.ts';
import {
  SESSION_ENDS_UNTIL,
  sessionEndRevocationName,
  sessionEndRevocationSpec,
} from '../../contract/session-ends.ts';
import { forwarded, signIn, signOut } from '../helpers/session-ends.ts';
import { runGatehouse, type SidecarProcess } from '../helpers/sidecar-process.ts';
import { type StandaloneWiki, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

// Standalone replicas record sign-outs as AccessRevocation files in the directory they share, and
// a sidecar takes at most MAX_REVOCATIONS covering its application: a config of more is refused
// whole, with every revocation in it. Before, sign-outs were written whatever the count, so a busy
// application (or a user signing in and out in a loop) pushed its replicas past it, and from then
// on none took a config or a revocation, `gatehouse revoke --revocations-dir` included, until
// enough sessions expired (hours). Now, as the operator does, a replica records no session end
// past SESSION_ENDS_UNTIL: the end holds in that replica, and the places left are for analysts.

const APPLICATION = 'default/wiki';
let wiki: StandaloneWiki;
let sidecar: SidecarProcess;
let origin: string;
let revocationsDir: string;
let upstreamPaths: string[];
/** The revocation files before the test's sign-outs: one short of what a sidecar takes. */
const PREFILLED = MAX_REVOCATIONS - 1;

beforeAll(async () => {
  // Sign-outs of other users, recorded earlier today by the replicas.
  wiki = await startStandaloneWiki('gatehouse-revocations-full-', (directory) => {
    const before = Math.floor(Date.now() / 1000) - 60;
    const expires = new Date(Date.now() + 12 * 3_600_000);
    for (let i = 0; i < PREFILLED; i++) {
      const end = { session: randomBytes(16).toString('base64url'), before, reason: 'signed out' };
      writeRevocationFile(directory, sessionEndRevocationSpec(end, APPLICATION), expires, {
        name: sessionEndRevocationName(end, APPLICATION),
      });
    }
  });
  ({ sidecar, origin, revocationsDir, upstreamPaths } = wiki);
}, 120_000);

afterAll(async () => {
  await wiki?.stop();
});

const revocationFiles = () => readdirSync(revocationsDir).filter((name) => name.endsWith('.yaml')).length;

describe(`standalone sign-outs past ${SESSION_ENDS_UNTIL} revocations of an application`, () => {
  it('hold in the replica that had them, and the replicas go on taking configs and revocations', async () => {
    for (let i = 0; i < 2; i++) {
      const { cookie } = await signIn(origin);
      expect(await forwarded(origin, cookie, '/home', upstreamPaths)).toBe(true);
      expect(await signOut(origin, cookie)).toBe(200);
      const unreported = await vi.waitFor(
        () => {
          const lines = sidecar.lines.filter(
            (l) => l.type === 'session_end_unreported' && l.reason === 'refused',
          );
          expect(lines.length).toBeGreaterThan(i);
          return lines[i] as Record<string, unknown>;
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(unreported.error).toBe(
        `${SESSION_ENDS_UNTIL} or more revocations cover ${APPLICATION} (a sidecar takes ${MAX_REVOCATIONS}): this end holds in this sidecar`,
      );
      // Ended here all the same.
      expect(await forwarded(origin, cookie, '/home', upstreamPaths)).toBe(false);
    }
    expect(revocationFiles()).toBe(PREFILLED);
    // An analyst's revocation still reaches the replica (MAX_REVOCATIONS in all).
    const written = await runGatehouse([
      'revoke',
      '--user',
      'bob@example.com',
      '--app',
      'wiki',
      '--reason',
      'INC-9',
      '--revocations-dir',
      revocationsDir,
      '--confirm',
      'config',
    ]);
    expect(written.code).toBe(0);
    const applied = await sidecar.waitForLine(
      (l) => l.type === 'revocation_applied' && l.user === 'bob@example.com',
      15_000,
    );
    expect(applied).toMatchObject({ reason: 'INC-9' });
    expect(sidecar.lines.some((l) => l.type === 'config_rejected')).toBe(false);
  }, 120_000);
});
