import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { AuthRecord, RequestRecord } from '../../audit/src/audit-record.ts';
import type { AuditAnswer } from '../../audit/src/queries.ts';
import { renderHtml } from '../../audit/src/render-html.ts';
import { renderTable } from '../../audit/src/render-text.ts';
import { revokeCommand, sessionRevokeCommand } from '../../audit/src/revoke-hint.ts';
import { type Session, SessionBuilder } from '../../audit/src/sessions.ts';
import { parseRevokeFlags } from '../../operator/src/cli/revoke-flags.ts';
import { authRecord, requestRecord } from '../helpers/audit-records.ts';

const ID = 'Qx7_k2-9aZbC3dEfGh1';

describe('the gatehouse revoke command the audit prints for one session', () => {
  it.each([
    ['a session id', { app: 'corp/wiki', session: ID }, `gatehouse revoke --session ${ID} --app corp/wiki`],
    [
      'a provider session',
      { app: 'corp/wiki', providerSession: 'c2a1-77', provider: 'okta' },
      'gatehouse revoke --provider-session c2a1-77 --provider okta --app corp/wiki',
    ],
    [
      'a provider session the shell would split or run',
      { app: 'corp/wiki', providerSession: "a b'$(id)`x`;", provider: 'my idp' },
      `gatehouse revoke --provider-session 'a b'\\''$(id)\`x\`;' --provider 'my idp' --app corp/wiki`,
    ],
    ['no provider for the provider session', { app: 'corp/wiki', providerSession: 'p' }, 'gatehouse revoke'],
    ['a session id that is none', { app: 'corp/wiki', session: 'S1; rm -rf /' }, 'gatehouse revoke'],
    ['a session id too short', { app: 'corp/wiki', session: 'abc' }, 'gatehouse revoke'],
    [
      'an application that is no namespace/name: every application',
      { app: 'corp/wiki --user x@y', session: ID },
      `gatehouse revoke --session ${ID}`,
    ],
    [
      "a standalone sidecar's application, named without a namespace",
      { app: 'wiki', session: ID },
      `gatehouse revoke --session ${ID} --app wiki`,
    ],
    ['nothing', { app: 'corp/wiki' }, 'gatehouse revoke'],
  ])('%s', (_what, end, expected) => {
    expect(revokeCommand(end)).toBe(expected);
  });

  it('a quoted value reads back as itself in a POSIX shell', () => {
    const value = "a b'$(id)`x`;\\ \"q\" ''";
    const command = revokeCommand({ app: 'corp/wiki', providerSession: value, provider: 'okta' });
    const words = command.replace(/^gatehouse revoke /, '');
    const echoed = execFileSync('sh', ['-c', `printf '%s\\n' ${words}`], { encoding: 'utf8' });
    expect(echoed.split('\n').slice(0, 4)).toEqual(['--provider-session', value, '--provider', 'okta']);
  });
});

describe('the printed command as gatehouse revoke reads it', () => {
  // Session ids are 16 random bytes in base64url: one in 64 begins with a dash, and so may a
  // provider's session id; the pasted command must end that session, not fail on "ambiguous".
  it.each([
    ['a session id', { app: 'corp/wiki', session: ID }, { session: ID }],
    ['a session id that begins with a dash', { app: 'corp/wiki', session: `-${ID}` }, { session: `-${ID}` }],
    [
      'a provider session that begins with a dash',
      { app: 'corp/wiki', providerSession: '-c2a1', provider: 'okta' },
      { providerSession: '-c2a1', provider: 'okta' },
    ],
    [
      'a provider session in quotes that begins with a dash',
      { app: 'corp/wiki', providerSession: "-a b'c", provider: 'okta' },
      { providerSession: "-a b'c", provider: 'okta' },
    ],
  ])('%s', (_what, end, target) => {
    const words = revokeCommand(end).replace(/^gatehouse revoke /, '');
    const argv = execFileSync('sh', ['-c', `printf '%s\\0' ${words}`], { encoding: 'utf8' }).split('\0');
    expect(parseRevokeFlags(argv.slice(0, -1))).toMatchObject({ target, apps: ['corp/wiki'] });
  });
});

describe('which sessions the audit prints it for', () => {
  const login = authRecord('login_succeeded', 500, {
    sessionId: ID,
    email: 'ada@example.com',
    provider: 'corp',
    sub: 'ada',
  });
  const served = (start: number, userAgent: string) =>
    requestRecord(start, { sessionId: ID, userAgent, app: 'corp/wiki' });
  const build = (records: (AuthRecord | RequestRecord)[]): Session => {
    const b = new SessionBuilder();
    for (const r of records) b.add(r);
    const session = b.sessions()[0];
    if (!session) throw new Error('no session');
    return session;
  };
  const stolen = [login, served(1000, 'laptop'), served(2000, 'thief/1.0')];
  const revoked = authRecord('session_revoked', 3000, { sessionId: ID, revocation: 'r-1' });

  it.each([
    ['a flagged session still going', stolen, `gatehouse revoke --session ${ID} --app corp/wiki`],
    [
      'a flagged session signed out here (other replicas may take it)',
      [...stolen, authRecord('logout', 3000, { sessionId: ID })],
      `gatehouse revoke --session ${ID} --app corp/wiki`,
    ],
    ['a flagged session revoked already', [...stolen, revoked], undefined],
    ['a session with no flag', [login, served(1000, 'laptop')], undefined],
  ])('%s', (_what, records, expected) => {
    expect(sessionRevokeCommand(build(records))).toBe(expected);
  });

  it('in the table under the flags, and in the HTML card', () => {
    const answer: AuditAnswer = {
      kind: 'sessions',
      query: { kind: 'sessions', range: { since: 0, until: Number.POSITIVE_INFINITY } },
      sessions: [build(stolen)],
    };
    expect(renderTable(answer).join('')).toContain(
      `  ! user agent change at 1970-01-01T00:00:02.000Z: moved to thief/1.0 (from laptop)\n  to end it  gatehouse revoke --session ${ID} --app corp/wiki\n`,
    );
    expect(renderHtml(answer).join('')).toContain(
      `To end it: <code>gatehouse revoke --session ${ID} --app corp/wiki</code>`,
    );
  });
});
