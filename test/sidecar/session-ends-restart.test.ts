import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateApplicationKeys } from '../../contract/keys.ts';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { signOut } from '../helpers/session-ends.ts';
import { runGatehouse, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import {
  STAND_IN_COOKIE_KEYS,
  type StandInOperator,
  startStandInOperator,
} from '../helpers/stand-in-operator.ts';
import { testSession } from '../helpers/test-session.ts';
import { writeStandaloneWiki } from '../helpers/wiki-app.ts';

// A sidecar container restarts (killed for memory, a failed liveness probe, a defect) while a
// sign-out it took is not through to the operator yet, or after it was: with
// --session-ends-file (injected sidecars keep it in an emptyDir of the pod), the restarted
// sidecar refuses the session at once and sends the end again when it was not through. Before,
// the restarted sidecar accepted the signed-out session's cookie, and the end was lost. The
// stand-in operator's config stream never carries a revocation: only the sidecar itself can.

const sealer = createSealer(STAND_IN_COOKIE_KEYS);
let operator: StandInOperator;
const running = new Set<SidecarProcess>();

beforeAll(async () => {
  operator = await startStandInOperator();
});

afterEach(async () => {
  for (const proc of running) await proc.stop();
  running.clear();
});

afterAll(async () => {
  await operator.close();
});

/** A cluster sidecar of the stand-in operator keeping its ends in `file` (none: without the flag). */
async function start(file: string | undefined, grace = '20s'): Promise<SidecarProcess> {
  const proc = await startSidecarProcess({ sourceArgs: operator.sourceArgs }, [
    '--shutdown-grace',
    grace,
    ...(file ? ['--session-ends-file', file] : []),
  ]);
  running.add(proc);
  await proc.waitForLine((l) => l.type === 'config_loaded', 10_000);
  return proc;
}

/** Kills the sidecar as the kernel's OOM killer would: no stop, no line after. */
async function kill(proc: SidecarProcess): Promise<void> {
  const exit = new Promise((r) => proc.child.once('exit', (_code, signal) => r(signal)));
  proc.child.kill('SIGKILL');
  expect(await exit).toBe('SIGKILL');
  running.delete(proc);
  await proc.stop();
}

const cookieOf = async (sid: string) => `_gatehouse=${await sealer.seal('session', testSession(sid))}`;

/** The sidecar's answer to the session's cookie: its line says whether the session was operator.taken. */
async function presented(proc: SidecarProcess, cookie: string, path: string) {
  const response = await request(`http://127.0.0.1:${proc.port}${path}`, { headers: { cookie } });
  await response.body.dump();
  const line = await proc.waitForLine((l) => l.uri === path, 5_000);
  const revoked = proc.lines.find((l) => l.type === 'session_revoked' && l.requestId === line.requestId);
  return { sessionId: line.sessionId, revoked: revoked !== undefined };
}

/** The anomalies `gatehouse audit sessions` flags for the session `sid` in these sidecars' lines. */
async function anomaliesOf(runs: readonly SidecarProcess[], sid: string): Promise<string[]> {
  const log = join(mkdtempSync(join(tmpdir(), 'gatehouse-restart-')), 'sidecar.log');
  writeFileSync(log, runs.flatMap((run) => run.lines.map((l) => `${JSON.stringify(l)}\n`)).join(''));
  const audit = await runGatehouse(['audit', 'sessions', '--sub', `sub-${sid}`, '--format', 'json', log]);
  expect(audit.code).toBe(0);
  const [session] = JSON.parse(audit.stdout) as { end: { kind: string }; anomalies: { kind: string }[] }[];
  expect(session?.end.kind).toBe('logout');
  return session?.anomalies.map((a) => a.kind) ?? [];
}

/** A standalone application `wiki` whose keys are in its config, and a signed-in engineer's cookie sealed with them. */
async function standaloneApp(sid: string): Promise<{ configDir: string; cookie: string; sid: string }> {
  const keys = generateApplicationKeys('ES256');
  // Its keys in the config: a cookie sealed before a restart is read after it.
  const configDir = writeStandaloneWiki(
    {
      hosts: ['127.0.0.1'],
      upstreamUrl: 'http://127.0.0.1:9',
      externalUrl: 'http://127.0.0.1',
      issuer: 'http://127.0.0.1:9/', // never contacted: the session is sealed here
    },
    keys,
  );
  const session = { ...testSession(sid, 3600, ['engineering']), idp: 'dev' };
  return { configDir, cookie: `_gatehouse=${await createSealer(keys.cookie).seal('session', session)}`, sid };
}

async function startStandalone(configDir: string, flags: string[]): Promise<SidecarProcess> {
  const proc = await startSidecarProcess(configDir, flags);
  running.add(proc);
  return proc;
}

const newFile = () => join(mkdtempSync(join(tmpdir(), 'gatehouse-restart-')), 'session-ends.jsonl');

describe('a sidecar restarted after a sign-out (--session-ends-file)', () => {
  it('killed while its end waits for the operator: the restarted sidecar refuses the session at once and sends the end again', async () => {
    const file = newFile();
    operator.answer = 'unavailable';
    const first = await start(file);
    const sid = 'restart-killed-waiting';
    const cookie = await cookieOf(sid);
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    await first.waitForLine((l) => l.type === 'session_end_delayed', 10_000);
    await kill(first);

    const before = operator.taken.length;
    operator.answer = 'accept';
    const second = await start(file);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({
      path: file,
      enforced: 1,
      reported: 1,
      skippedLines: 0,
    });
    expect(await presented(second, cookie, '/after-restart')).toEqual({ sessionId: null, revoked: true });
    await second.waitForLine((l) => l.type === 'session_end_reported', 10_000);
    expect(operator.taken.slice(before)).toMatchObject([{ session: sid, reason: 'signed out' }]);
    // The analyst reads both runs' lines: a sign-out that got through in the end, nothing flagged.
    expect(await anomaliesOf([first, second], sid)).toEqual([]);
    expect(await anomaliesOf([first], sid)).toEqual(['end_not_carried']);
  });

  it('killed after its end got through: enforced again, not sent again', async () => {
    const file = newFile();
    operator.answer = 'accept';
    const first = await start(file);
    const cookie = await cookieOf('restart-killed-reported');
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    await first.waitForLine((l) => l.type === 'session_end_reported', 10_000);
    await kill(first);

    const before = operator.posted();
    const second = await start(file);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({
      enforced: 1,
      reported: 0,
    });
    expect(await presented(second, cookie, '/after-restart')).toEqual({ sessionId: null, revoked: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(operator.posted()).toBe(before);
    // Another session of the same user is not touched: only the one signed out ends.
    expect(await presented(second, await cookieOf('restart-other-session'), '/other')).toEqual({
      sessionId: 'restart-other-session',
      revoked: false,
    });
  });

  it('stopped while the operator held its round past the grace (shutting_down): the next start sends it again', async () => {
    const file = newFile();
    operator.answer = 'hold';
    const first = await start(file, '2s');
    const before = operator.posted();
    const cookie = await cookieOf('restart-stopped-held');
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    while (operator.posted() === before) await new Promise((r) => setTimeout(r, 10));
    running.delete(first);
    expect(await first.stop()).toBe(0);
    expect(first.lines.find((l) => l.type === 'session_end_unreported')).toMatchObject({
      reason: 'shutting_down',
    });
    operator.dropConnections(); // the held rounds

    operator.answer = 'accept';
    const second = await start(file);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({ reported: 1 });
    await second.waitForLine((l) => l.type === 'session_end_reported', 10_000);
    expect(await presented(second, cookie, '/after-stop')).toEqual({ sessionId: null, revoked: true });
    expect(await anomaliesOf([first, second], 'restart-stopped-held')).toEqual([]);
    expect(await anomaliesOf([first], 'restart-stopped-held')).toEqual(['end_not_carried']);
  });

  it('a line cut short by the kill is skipped, and the ends before it hold', async () => {
    const file = newFile();
    operator.answer = 'accept';
    const first = await start(file);
    const cookie = await cookieOf('restart-before-cut');
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    await first.waitForLine((l) => l.type === 'session_end_reported', 10_000);
    await kill(first);
    const whole = readFileSync(file, 'utf8');
    writeFileSync(file, `${whole}{"end":{"session":"restart-cut-short-0000","be`);

    const second = await start(file);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({
      enforced: 1,
      skippedLines: 1,
    });
    expect(await presented(second, cookie, '/after-cut')).toEqual({ sessionId: null, revoked: true });
  });

  it('standalone (--config) without a revocations directory: the sign-out outlives a restart of the process', async () => {
    const { configDir, cookie, sid } = await standaloneApp('restart-standalone-01');
    const file = newFile();
    const first = await startStandalone(configDir, ['--session-ends-file', file]);
    expect(await presented(first, cookie, '/before')).toEqual({ sessionId: sid, revoked: false });
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    await kill(first);

    const second = await startStandalone(configDir, ['--session-ends-file', file]);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({
      app: 'wiki',
      enforced: 1,
      reported: 0, // no revocations directory: nothing to send it to
    });
    expect(await presented(second, cookie, '/after-restart')).toEqual({ sessionId: null, revoked: true });
  });

  it('standalone with a revocations directory: an end written there and sent again (killed before its settled line) replaces its file, not a second one', async () => {
    const { configDir, cookie } = await standaloneApp('restart-standalone-02');
    const file = newFile();
    const revocations = mkdtempSync(join(tmpdir(), 'gatehouse-restart-'));
    const flags = ['--session-ends-file', file, '--revocations-dir', revocations];
    const first = await startStandalone(configDir, flags);
    expect(await signOut(`http://127.0.0.1:${first.port}`, cookie)).toBeLessThan(400);
    await first.waitForLine((l) => l.type === 'session_end_reported', 5_000);
    await kill(first);
    const written = readdirSync(revocations).filter((f) => f.startsWith('session-end-'));
    expect(written).toHaveLength(1);
    // As if killed between the write and its settled line: the end is sent again at start.
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, lines.filter((l) => !l.includes('"settled"')).join('\n'));

    const second = await startStandalone(configDir, flags);
    expect(second.lines.find((l) => l.type === 'session_ends_restored')).toMatchObject({ reported: 1 });
    await second.waitForLine((l) => l.type === 'session_end_reported', 5_000);
    expect(readdirSync(revocations).filter((f) => f.startsWith('session-end-'))).toEqual(written);
    expect(await presented(second, cookie, '/after-restart')).toEqual({ sessionId: null, revoked: true });
  });

  it('a path the sidecar cannot use stops it at start, saying which and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-restart-'));
    const { code, stderr } = await runGatehouse([
      'sidecar',
      ...operator.sourceArgs,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      '--session-ends-file',
      dir,
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `gatehouse sidecar: --session-ends-file ${dir}: illegal operation on a directory\n`,
    );
  });
});
