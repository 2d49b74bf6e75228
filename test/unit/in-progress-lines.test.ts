import { describe, expect, it } from 'vitest';
import { parseAuditLine } from '../../audit/src/audit-record.ts';
import { createMemorySink } from '../../lib/log/log-sink.ts';
import { IN_PROGRESS_LINES_PER_TURN, logRequestsInProgress } from '../../sidecar/src/log/in-progress-line.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';
import { logLineProblems } from '../helpers/log-line-check.ts';

const sink = createMemorySink();

/** A request in progress since `startMono` (performance.now() time), as the line writer reads it. */
function openRequest(n: number, startMono: number): RequestScope {
  return {
    sink,
    state: { appLabel: 'corp/wiki', redactedQueryParameters: new Set(['token']) },
    requestId: `r${n}`,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    seq: n + 1,
    host: 'wiki.example.com',
    req: { method: 'GET', url: `/feed/${n}?token=secret` },
    path: `/feed/${n}`,
    query: 'token=secret',
    status: 200,
    startedAt: Date.now() - 120_000,
    startMono,
    socket: { bytesRead: 300, bytesWritten: 90_000 },
    connection: { bytesReadMark: 100, bytesWrittenMark: 10_000 },
    clientIp: '192.0.2.1',
    identity: { kind: 'user', sub: 'ada', email: 'ada@example.com', idp: 'corp' },
    sessionId: 'S1',
    authMethod: 'oidc',
    kind: 'http',
    logged: false,
  } as unknown as RequestScope;
}

const registry = (scopes: RequestScope[]) => ({
  forEachOpen: (visit: (s: RequestScope) => void) => scopes.forEach(visit),
});
const turn = () => new Promise((resolve) => setImmediate(resolve));
const flowing = { congested: false };

describe('in-progress lines', () => {
  it('one per request that has lasted the interval, with its fields so far and no secret', () => {
    sink.lines.length = 0;
    const now = performance.now();
    logRequestsInProgress(
      [registry([openRequest(0, now - 120_000), openRequest(1, now - 10)])],
      60_000,
      flowing,
    );
    expect(sink.lines).toHaveLength(1);
    const line = JSON.parse(sink.lines[0] as string);
    expect(logLineProblems(line)).toEqual([]);
    expect(line).toMatchObject({
      type: 'request_in_progress',
      requestId: 'r0',
      uri: '/feed/0?token=[REDACTED]',
      status: 200,
      bytesIn: 200,
      bytesOut: 80_000,
      sessionId: 'S1',
      upgrade: false,
    });
    expect(line.elapsedMs).toBeGreaterThanOrEqual(120_000);
    expect(sink.lines[0]).not.toContain('secret');
  });

  it('a request through a private endpoint: its line names the endpoint, as its request line will, and the audit reads it', () => {
    sink.lines.length = 0;
    const through = { ...openRequest(2, performance.now() - 120_000), privateEndpoint: 'aws:vpce-0a1' };
    logRequestsInProgress([registry([through as RequestScope])], 60_000, flowing);
    const line = JSON.parse(sink.lines[0] as string);
    expect(logLineProblems(line)).toEqual([]);
    expect(line).toMatchObject({ clientIp: '192.0.2.1', privateEndpoint: 'aws:vpce-0a1' });
    expect(parseAuditLine(sink.lines[0] as string)).toMatchObject({
      inProgress: true,
      clientIp: '192.0.2.1',
      privateEndpoint: 'aws:vpce-0a1',
    });
  });

  it('thousands at once: written a share each turn of the event loop, those that ended meanwhile skipped', async () => {
    sink.lines.length = 0;
    const now = performance.now();
    const tunnels = Array.from({ length: 600 }, (_, i) => openRequest(i, now - 120_000));
    logRequestsInProgress([registry(tunnels.slice(0, 300)), registry(tunnels.slice(300))], 60_000, flowing);
    expect(sink.lines).toHaveLength(IN_PROGRESS_LINES_PER_TURN);
    (tunnels[599] as { logged: boolean }).logged = true; // ended (its request line written)
    await turn();
    expect(sink.lines).toHaveLength(2 * IN_PROGRESS_LINES_PER_TURN);
    await turn();
    expect(sink.lines).toHaveLength(599);
    expect(sink.lines.some((l) => l.includes('"requestId":"r599"'))).toBe(false);
  });

  it('none while the log is congested, and a sweep stops where it becomes so: its lines would only wait in memory', async () => {
    sink.lines.length = 0;
    const now = performance.now();
    const tunnels = Array.from({ length: 600 }, (_, i) => openRequest(i, now - 120_000));
    const log = { congested: true };
    logRequestsInProgress([registry(tunnels)], 60_000, log);
    await turn();
    expect(sink.lines).toHaveLength(0);
    log.congested = false;
    logRequestsInProgress([registry(tunnels)], 60_000, log);
    expect(sink.lines).toHaveLength(IN_PROGRESS_LINES_PER_TURN);
    log.congested = true; // the reader stalls between two turns of the sweep
    await turn();
    await turn();
    expect(sink.lines).toHaveLength(IN_PROGRESS_LINES_PER_TURN);
  });
});
