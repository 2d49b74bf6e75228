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

async function writeLog(file: string): Promise<void> {
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
  const revocation = (at: number, session: string, name: string) => ({
    type: 'revocation_applied',
    time: iso(at),
    app: 'corp/wiki',
    revocation: name,
    session,
    revokedBefore: iso(at),
    reason: 'signed out',
    websocketsClosed: 0,
  });
  for (let i = 0; i < SIGN_OUTS; i++)
    for (let r = 0; r < REPLICAS; r++) line(revocation(t0 + i * 3_000 + r, `S-${i}`, `session-end-${i}`));
  line(revocation(t0 + SIGN_OUTS * 3_000 + 10, 'S-ada', 'session-end-ada'));
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
});
