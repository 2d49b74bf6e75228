import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeRevocationFile } from '../../contract/revocation-files.ts';
import {
  SESSION_END_ACCOUNT_LABEL,
  SESSION_ENDS_PER_ACCOUNT,
  sessionEndAccount,
  sessionEndRevocationName,
  sessionEndRevocationSpec,
} from '../../contract/session-ends.ts';
import { forwarded, signIn, signOut } from '../helpers/session-ends.ts';
import type { SidecarProcess } from '../helpers/sidecar-process.ts';
import { type StandaloneWiki, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

// One user who signs in and out in a loop (or a synthetic monitor that does every minute) used to
// fill the application's bound of session ends, and from then on nobody's sign-out reached the
// other replicas. Each end now names its account (a label), and a replica writes no more than
// SESSION_ENDS_PER_ACCOUNT in force for one account: past it, that account's end holds in the
// replica that had it, and everyone else's go on.

const APPLICATION = 'default/wiki';
/** alice of the dev provider (`dev` in the wiki's spec), whose sub is her login. */
const ALICE = sessionEndAccount('dev', 'alice');
const BOB = sessionEndAccount('dev', 'bob');
let wiki: StandaloneWiki;
let sidecar: SidecarProcess;
let origin: string;
let revocationsDir: string;
let upstreamPaths: string[];
/** alice's earlier sign-outs, by file name. */
const alicesFiles: string[] = [];

/** Writes the file of an earlier sign-out of `account`, as a replica did; resolves with its file name. */
function earlierSignOut(directory: string, account: string): string {
  const end = {
    session: randomBytes(16).toString('base64url'),
    before: Math.floor(Date.now() / 1000) - 60,
    reason: 'signed out',
  };
  const name = writeRevocationFile(
    directory,
    sessionEndRevocationSpec(end, APPLICATION),
    new Date(Date.now() + 12 * 3_600_000),
    { name: sessionEndRevocationName(end, APPLICATION) },
    { [SESSION_END_ACCOUNT_LABEL]: account },
  );
  return `${name}.yaml`;
}

beforeAll(async () => {
  // bob is at his bound already; alice one short of it.
  wiki = await startStandaloneWiki('gatehouse-revocations-account-', (directory) => {
    for (let i = 0; i < SESSION_ENDS_PER_ACCOUNT; i++) earlierSignOut(directory, BOB);
    for (let i = 0; i < SESSION_ENDS_PER_ACCOUNT - 1; i++) alicesFiles.push(earlierSignOut(directory, ALICE));
  });
  ({ sidecar, origin, revocationsDir, upstreamPaths } = wiki);
}, 120_000);

afterAll(async () => {
  await wiki?.stop();
});

const revocationFiles = () => readdirSync(revocationsDir).filter((name) => name.endsWith('.yaml'));

/** Signs alice in and out; resolves with her cookie and the session its logout event names. */
async function signInAndOut(): Promise<{ cookie: string; session: string }> {
  const { cookie } = await signIn(origin);
  expect(await forwarded(origin, cookie, '/home', upstreamPaths)).toBe(true);
  const seen = sidecar.lines.length;
  expect(await signOut(origin, cookie)).toBe(200);
  const logout = await vi.waitFor(
    () => {
      const line = sidecar.lines.slice(seen).find((l) => l.type === 'logout');
      expect(line).toBeDefined();
      return line as Record<string, unknown>;
    },
    { timeout: 10_000, interval: 50 },
  );
  return { cookie, session: String(logout.sessionId) };
}

describe(`standalone sign-outs of one account past ${SESSION_ENDS_PER_ACCOUNT} in force`, () => {
  it('are written up to the bound (labelled with the account; another account at its bound holds back nobody else), then hold in the replica that had them', async () => {
    // The last place: written, and every replica (this one, reloading) ends it too.
    const first = await signInAndOut();
    const written = await vi.waitFor(
      () => {
        const file = revocationFiles().find((f) =>
          readFileSync(join(revocationsDir, f), 'utf8').includes(first.session),
        );
        expect(file).toBeDefined();
        return file as string;
      },
      { timeout: 10_000, interval: 50 },
    );
    const text = readFileSync(join(revocationsDir, written), 'utf8');
    expect(text).toContain(`${SESSION_END_ACCOUNT_LABEL}: ${ALICE}`);
    // Loaded from the directory (not the replica's own copy of the end, named otherwise): counted.
    const name = written.replace(/\.yaml$/, '');
    await sidecar.waitForLine((l) => l.type === 'revocation_applied' && l.revocation === name, 10_000);
    expect(sidecar.lines.some((l) => l.type === 'session_end_unreported')).toBe(false);
    alicesFiles.push(written);
    const files = revocationFiles().length;

    // Past it: held here, nothing written.
    const second = await signInAndOut();
    const unreported = await sidecar.waitForLine(
      (l) => l.type === 'session_end_unreported' && l.session === second.session,
      10_000,
    );
    expect(unreported).toMatchObject({
      reason: 'account_full',
      error: `this account already has ${SESSION_ENDS_PER_ACCOUNT} session ends in force for ${APPLICATION}: this end holds in this sidecar`,
    });
    expect(await forwarded(origin, second.cookie, '/home', upstreamPaths)).toBe(false);
    expect(revocationFiles().length).toBe(files);
  }, 120_000);

  it('has its places back as its ends expire (their files pruned)', async () => {
    const gone = alicesFiles.splice(0, 2);
    for (const file of gone) unlinkSync(join(revocationsDir, file));
    // A revocation written after the deletions: once it is applied, the replica has reloaded the
    // directory without them.
    writeRevocationFile(
      revocationsDir,
      {
        user: 'nobody@example.com',
        applications: [APPLICATION],
        revokedBefore: new Date().toISOString(),
        reason: 'marker',
      },
      new Date(Date.now() + 3_600_000),
    );
    await sidecar.waitForLine(
      (l) => l.type === 'revocation_applied' && l.user === 'nobody@example.com',
      10_000,
    );
    const third = await signInAndOut();
    await vi.waitFor(
      () =>
        expect(
          revocationFiles().some((f) =>
            readFileSync(join(revocationsDir, f), 'utf8').includes(third.session),
          ),
        ).toBe(true),
      { timeout: 10_000, interval: 50 },
    );
    expect(
      sidecar.lines.some((l) => l.type === 'session_end_unreported' && l.session === third.session),
    ).toBe(false);
  }, 120_000);
});
