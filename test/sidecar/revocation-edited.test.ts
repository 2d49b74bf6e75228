import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwarded, signIn } from '../helpers/session-ends.ts';
import { type StandaloneWiki, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

// An analyst ends the sessions a user signed in since their revocation by moving its cut-off
// (`revokedBefore`) and applying it again under the same name. The sidecar enforced the edit, but
// told nothing: revocation_applied was written for a name it had not seen, not for a revocation
// changed under one, so the analyst had no line saying the edit had reached each sidecar.

let wiki: StandaloneWiki;

const revocation = (revokedBefore: Date): string =>
  `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata:\n  name: inc-7\nspec:\n  user: alice@example.com\n  applications: [default/wiki]\n  revokedBefore: ${revokedBefore.toISOString().replace(/\.\d+Z$/, 'Z')}\n  reason: INC-7\n`;

beforeAll(async () => {
  wiki = await startStandaloneWiki('gatehouse-revocation-edited-');
}, 120_000);

afterAll(async () => {
  await wiki?.stop();
});

describe('an AccessRevocation edited under its name', () => {
  it('is told again (revocation_applied with its new cut-off) and ends the sessions it now covers', async () => {
    const { sidecar, origin, upstreamPaths } = wiki;
    const file = join(wiki.revocationsDir, 'inc-7.yaml');
    writeFileSync(file, revocation(new Date(Date.now() - 600_000)));
    const first = await sidecar.waitForLine(
      (l) => l.type === 'revocation_applied' && l.revocation === 'inc-7',
    );
    // Signed in after the first cut-off: not covered.
    const { cookie } = await signIn(origin);
    expect(await forwarded(origin, cookie, '/before-the-edit', upstreamPaths)).toBe(true);

    const cutOff = new Date(Date.now() + 1_000);
    writeFileSync(file, revocation(cutOff));
    const again = await sidecar.waitForLine(
      (l) => l.type === 'revocation_applied' && l.revocation === 'inc-7' && l !== first,
      5_000,
    );
    expect(again).toMatchObject({
      user: 'alice@example.com',
      revokedBefore: cutOff.toISOString().replace(/\.\d+Z$/, '.000Z'),
      reason: 'INC-7',
    });
    expect(await forwarded(origin, cookie, '/after-the-edit', upstreamPaths)).toBe(false);
    // Written once per change: the same text again (a touch, a sweep) tells nothing more.
    writeFileSync(file, revocation(cutOff));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(
      sidecar.lines.filter((l) => l.type === 'revocation_applied' && l.revocation === 'inc-7'),
    ).toHaveLength(2);
  }, 60_000);
});
