/**
 * A request line as the sidecar writes it (native field profile), every field present; tests
 * give the fields their case is about. Times are ISO strings; `time` defaults to `end`.
 */
export function requestLine(fields: Record<string, unknown> & { start: string; end: string }): string {
  const { start, end, ...rest } = fields;
  return JSON.stringify({
    type: 'request',
    time: end,
    requestId: 'r1',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    seq: 1,
    app: 'corp/wiki',
    host: 'wiki.example.com',
    method: 'GET',
    uri: '/',
    protocol: 'HTTP/1.1',
    status: 200,
    outcome: 'served',
    error: null,
    errorCause: null,
    bytesIn: 512,
    bytesOut: 4096,
    start,
    end,
    durationMs: Date.parse(end) - Date.parse(start),
    upstreamMs: null,
    clientIp: '192.0.2.10',
    peerIp: '10.244.0.9',
    userAgent: 'Firefox',
    identity: null,
    sessionId: null,
    endedSession: null,
    authMethod: null,
    decision: { action: 'allow', policy: 'corp/staff', rule: 'include', reason: 'email_domain_match' },
    auditDecision: null,
    upgrade: false,
    configGeneration: '0123456789abcdef',
    requestHeaders: null,
    ...rest,
  });
}
