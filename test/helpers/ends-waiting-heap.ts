// Run as a script (node --expose-gc): prints the heap that each end by name waiting in an
// EndsByName takes, for ends as sign-outs write them over a cluster's applications.
import { toAuditRecord } from '../../audit/src/audit-record.ts';
import { EndsByName } from '../../audit/src/ends-by-name.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const t0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const count = Number(process.argv[2] ?? 100_000);
gc();
const before = process.memoryUsage().heapUsed;
const ends = new EndsByName();
for (let i = 0; i < count; i++) {
  const line = JSON.stringify({
    type: 'revocation_applied',
    time: iso(t0 + i * 500),
    app: `team-${i % 7}/app-${i % 11}`,
    revocation: `session-end-${i.toString(16).padStart(20, '0')}`,
    session: `S${String(i).padStart(21, '0')}`,
    revokedBefore: iso(t0 + i * 500),
    reason: 'signed out',
    websocketsClosed: 0,
  });
  const record = toAuditRecord(JSON.parse(line));
  if (record?.kind === 'auth') ends.offer(record);
}
gc();
process.stdout.write(
  `${JSON.stringify({ waiting: ends.waiting, bytes: (process.memoryUsage().heapUsed - before) / ends.waiting })}\n`,
);
