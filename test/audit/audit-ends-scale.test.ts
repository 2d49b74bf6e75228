import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGatehouse } from '../helpers/sidecar-process.ts';

// One user's sessions over a busy cluster's logs: every sign-out of everyone is logged by every
// replica (revocation_applied, naming a session, not a user), and all those lines are read for a
// user's question, since any of them may end one of that user's sessions. Before they were kept
// whatever they named, 300,000 of them took more than 96 MiB of heap; they are kept only when they
// name what the user's own lines name.

const SIGN_OUTS = 100_000;
const REPLICAS = 3;
const HEAP_MIB = 64;

/** Ada's sign-in, `signOuts` sign-outs of others (each logged by `replicas` replicas, `everyMs` apart), then hers. */
async function writeLog(
  file: string,
  signOuts = SIGN_OUTS,
  replicas = REPLICAS,
  everyMs = 3_000,
): Promise<void> {
  const out = createWriteStream(file);
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const line = (o: object) => out.write(`${JSON.stringify(o)}\n`);
  line({
    type: 'login_succeeded',
    time: iso(t0),
    app: 'corp/wiki',
    requestId: 'login-ada',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    clientIp: '192.0.2.1',
    userAgent: 'Firefox',
    provider: 'corp',
    sub: 'ada-sub',
    email: 'ada@example.com',
    sessionId: 'S-ada',
    groups: 1,
  });
  const revocation = (at: number, session: string, name: string, app = 'corp/wiki') => ({
    type: 'revocation_applied',
    time: iso(at),
    app,
    revocation: name,
    session,
    revokedBefore: iso(at),
    reason: 'signed out',
    websocketsClosed: 0,
  });
  for (let i = 0; i < signOuts; i++)
    for (let r = 0; r < replicas; r++)
      // As the operator names them (a session id of 22 characters, session-end-<20 hex>), over
      // the applications of a cluster.
      line(
        revocation(
          t0 + i * everyMs + r,
          `S${String(i).padStart(21, '0')}`,
          `session-end-${i.toString(16).padStart(20, '0')}`,
          `team-${i % 7}/app-${i % 11}`,
        ),
      );
  line(revocation(t0 + signOuts * everyMs + 10, 'S-ada', 'session-end-ada'));
  await new Promise<void>((resolve) => out.end(resolve));
}

describe("one user's sessions in logs full of everyone's sign-outs", () => {
  it(`${SIGN_OUTS * REPLICAS} revocation lines: the user's end is found with ${HEAP_MIB} MiB of heap`, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-audit-ends-')), 'cluster.log');
    await writeLog(file);
    const { code, stdout, stderr } = await runGatehouse(
      ['audit', 'sessions', '--user', 'ada@example.com', '--format', 'json', file],
      undefined,
      [`--max-old-space-size=${HEAP_MIB}`],
    );
    expect({ code, stderr: stderr.slice(0, 300) }).toEqual({ code: 0, stderr: '' });
    const sessions = JSON.parse(stdout) as {
      sessionId: string;
      end: { kind: string; detail: string } | null;
    }[];
    expect(sessions.map((s) => [s.sessionId, s.end?.kind, s.end?.detail])).toEqual([
      ['S-ada', 'revoked', 'session-end-ada'],
    ]);
  });

  // Within a day every sign-out waits (a replay of its session may still come): those of a day
  // are held at once (the next test measures what each takes).
  it('120,000 sign-outs within a day, each waiting: the user\u2019s end is found with 96 MiB of heap', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-audit-day-')), 'day.log');
    await writeLog(file, 120_000, 1, 500);
    const { code, stdout, stderr } = await runGatehouse(
      ['audit', 'sessions', '--user', 'ada@example.com', '--format', 'json', file],
      undefined,
      ['--max-old-space-size=96'],
    );
    expect({ code, stderr: stderr.slice(0, 300) }).toEqual({ code: 0, stderr: '' });
    const sessions = JSON.parse(stdout) as { sessionId: string; end: { kind: string } | null }[];
    expect(sessions.map((s) => [s.sessionId, s.end?.kind])).toEqual([['S-ada', 'revoked']]);
  });

  it('an end waiting takes about 320 bytes of heap (a key joined from three strings and an array each took 575)', async () => {
    const { execFile } = await import('node:child_process');
    const script = join(import.meta.dirname, '../helpers/ends-waiting-heap.ts');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--expose-gc', script, '100000'], (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    const { waiting, bytes } = JSON.parse(out) as { waiting: number; bytes: number };
    expect(waiting).toBe(100_000);
    expect(bytes).toBeLessThan(420);
  });
});
