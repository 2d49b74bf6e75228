import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFECT_EXIT_CODE } from '../../lib/defects.ts';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { sidecarWithPlantedDefect } from '../helpers/planted-defect.ts';
import { signOut } from '../helpers/session-ends.ts';
import { runGatehouse, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import {
  STAND_IN_COOKIE_KEYS,
  type StandInOperator,
  startStandInOperator,
} from '../helpers/stand-in-operator.ts';
import { testSession } from '../helpers/test-session.ts';

// A sidecar that stops (a rolling update, a scale-down) while a sign-out it took is not through
// to the operator yet: the rest of its grace goes to that end, and an end that still does not
// get through is logged as such. Before, one waiting for its next round was given up at once,
// and one whose round was in progress was neither reported nor given up: the process exited.

const sealer = createSealer(STAND_IN_COOKIE_KEYS);
let operator: StandInOperator;
let sidecar: SidecarProcess | undefined;

beforeAll(async () => {
  operator = await startStandInOperator();
});

afterEach(async () => {
  await sidecar?.stop();
  sidecar = undefined;
});

afterAll(async () => {
  await operator.close();
});

/** A cluster sidecar whose operator is the stand-in, with the given grace (and node arguments). */
async function startStreamedSidecar(grace: string, command?: string[]): Promise<SidecarProcess> {
  const started = await startSidecarProcess(
    { sourceArgs: operator.sourceArgs },
    ['--shutdown-grace', grace],
    {},
    command,
  );
  await started.waitForLine((l) => l.type === 'config_loaded', 10_000);
  return started;
}

/** Signs a fresh session out through the sidecar; resolves once its end is on its way. */
async function signOutFresh(process: SidecarProcess, sid: string): Promise<void> {
  const cookie = `_gatehouse=${await sealer.seal('session', testSession(sid))}`;
  const status = await signOut(`http://127.0.0.1:${process.port}`, cookie);
  expect(status).toBeLessThan(400);
}

const endEvents = (process: SidecarProcess) =>
  process.lines.filter((l) => String(l.type).startsWith('session_end_'));

interface AuditedSession {
  readonly end: { readonly kind: string };
  readonly anomalies: readonly { readonly kind: string; readonly detail: string }[];
}

/** The analyst's view of a sidecar's lines: `gatehouse audit sessions --sub` for the session signed out as `sid`. */
async function auditOf(process: SidecarProcess, sid: string): Promise<AuditedSession[]> {
  const logFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-stop-')), `${sid}.log`);
  writeFileSync(logFile, process.lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const audit = await runGatehouse(['audit', 'sessions', '--sub', `sub-${sid}`, '--format', 'json', logFile]);
  expect(audit.code).toBe(0);
  return JSON.parse(audit.stdout) as AuditedSession[];
}

describe('a sign-out not through to the operator when the sidecar stops', () => {
  it.each([
    ['answers 503', 'unavailable'],
    ['drops every connection', 'drop'],
  ] as const)(
    'waiting for its next round while the operator %s: rounds go on during the stop, and it is reported once the operator takes it',
    async (_what, failing) => {
      operator.answer = failing;
      sidecar = await startStreamedSidecar('20s');
      const proc = sidecar;
      await signOutFresh(proc, 'stop-delayed');
      await proc.waitForLine((l) => l.type === 'session_end_delayed', 10_000);
      const before = operator.posted();
      const stopped = proc.stop();
      await new Promise((r) => setTimeout(r, 1_500));
      // Still unavailable for the first 1.5 s of the stop: rounds went on (a round tries six times).
      expect(operator.posted()).toBeGreaterThan(before);
      expect(proc.child.exitCode).toBeNull();
      operator.answer = 'accept';
      const started = performance.now();
      expect(await stopped).toBe(0);
      sidecar = undefined;
      // The next round comes within a second of the last failed one; its first try gets through.
      expect(performance.now() - started).toBeLessThan(6_000);
      const events = endEvents(proc).map((l) => l.type);
      expect(events).toEqual(['session_end_delayed', 'session_end_reported']);
      const stoppedAt = proc.lines.findIndex((l) => l.type === 'sidecar_stopped');
      const reportedAt = proc.lines.findIndex((l) => l.type === 'session_end_reported');
      expect(reportedAt).toBeGreaterThan(-1);
      expect(reportedAt).toBeLessThan(stoppedAt);
      // The analyst sees a sign-out that got through: nothing to flag.
      const [session] = await auditOf(proc, 'stop-delayed');
      expect(session?.end.kind).toBe('logout');
      expect(session?.anomalies).toEqual([]);
    },
  );

  it('killed (SIGKILL, out of memory) while its end waits for the next round: no line says how it went, and the audit flags it', async () => {
    operator.answer = 'unavailable';
    sidecar = await startStreamedSidecar('20s');
    const proc = sidecar;
    await signOutFresh(proc, 'killed-delayed');
    await proc.waitForLine((l) => l.type === 'session_end_delayed', 10_000);
    const exit = new Promise((r) => proc.child.once('exit', (_code, signal) => r(signal)));
    proc.child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');
    await proc.stop();
    sidecar = undefined;
    operator.answer = 'accept';
    expect(endEvents(proc).map((l) => l.type)).toEqual(['session_end_delayed']);
    const [session] = await auditOf(proc, 'killed-delayed');
    expect(session?.end.kind).toBe('logout');
    expect(session?.anomalies.map((a) => a.kind)).toEqual(['end_not_carried']);
    expect(session?.anomalies[0]?.detail).toContain(
      'the sign-out held in one sidecar only as far as these logs show: its first round did not get through',
    );
  });

  it('its round held by the operator past the grace: logged unreported (shutting_down), and the sidecar exits within its grace', async () => {
    operator.answer = 'hold';
    sidecar = await startStreamedSidecar('3s');
    const proc = sidecar;
    const before = operator.posted();
    await signOutFresh(proc, 'stop-held');
    while (operator.posted() === before) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    expect(await proc.stop()).toBe(0);
    sidecar = undefined;
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(2_500);
    expect(took).toBeLessThan(4_500);
    const unreported = endEvents(proc);
    expect(unreported).toHaveLength(1);
    expect(unreported[0]).toMatchObject({ type: 'session_end_unreported', reason: 'shutting_down' });
    expect(proc.lines.at(-1)?.type).toBe('sidecar_stopped');
    // The analyst's view of those lines: the session, its sign-out, and that it held here only.
    const [session] = await auditOf(proc, 'stop-held');
    expect(unreported[0]?.app).toBe('shop/test-app');
    expect(session?.end.kind).toBe('logout');
    expect(session?.anomalies.map((a) => a.kind)).toEqual(['end_not_carried']);
    expect(session?.anomalies[0]?.detail).toContain('the sign-out held in one sidecar only (shutting_down');
  });

  it('refused by the operator: given up at once, and the stop does not wait for it', async () => {
    operator.answer = 'refuse';
    sidecar = await startStreamedSidecar('20s');
    const proc = sidecar;
    await signOutFresh(proc, 'stop-refused');
    await proc.waitForLine((l) => l.type === 'session_end_unreported', 10_000);
    const started = performance.now();
    expect(await proc.stop()).toBe(0);
    sidecar = undefined;
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(endEvents(proc).map((l) => [l.type, l.reason])).toEqual([['session_end_unreported', 'refused']]);
  });

  it('a defect ends the sidecar during its round: the end is logged unreported before the exit', async () => {
    operator.answer = 'hold';
    sidecar = await startStreamedSidecar('20s', sidecarWithPlantedDefect());
    const proc = sidecar;
    const before = operator.posted();
    await signOutFresh(proc, 'defect-held');
    while (operator.posted() === before) await new Promise((r) => setTimeout(r, 10));
    const exit = new Promise((r) => proc.child.once('exit', r));
    proc.child.kill('SIGUSR2');
    expect(await exit).toBe(DEFECT_EXIT_CODE);
    await proc.stop();
    sidecar = undefined;
    expect(endEvents(proc).map((l) => [l.type, l.reason])).toEqual([
      ['session_end_unreported', 'shutting_down'],
    ]);
    expect(proc.lines.at(-1)?.type).toBe('session_end_unreported');
    expect(proc.lines.filter((l) => l.type === 'sidecar_failed')).toHaveLength(1);
  });
});
