/** Error codes of a connection that the operator ended or lost, as Node and undici name them. */
const CLOSED = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'HPE_INVALID_EOF_STATE',
  'HPE_UNEXPECTED_EOF',
  'HPE_INVALID_CHUNK_SIZE',
]);
const UNREACHABLE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timeout',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  ENOTFOUND: 'its name does not resolve',
  EAI_AGAIN: 'its name does not resolve (temporary)',
};

function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') return code;
  }
  return undefined;
}

/**
 * Why the config stream is down, in words an operator of the cluster can act on: the operator
 * unreachable, the connection closed by it (a restart, a rollout), its certificate not trusted,
 * or the message of anything else. Never the HTTP parser's wording for a connection cut short.
 */
export function streamErrorReason(error: unknown): string {
  const code = codeOf(error);
  if (code && CLOSED.has(code)) return `the operator closed the connection (${code})`;
  // undici reports a response body cut short as a parser error, not always with a code.
  if ((error as { name?: unknown } | null)?.name === 'HTTPParserError')
    return `the operator closed the connection (${code ?? 'response cut short'})`;
  if (code && UNREACHABLE[code]) return `the operator is unreachable: ${UNREACHABLE[code]} (${code})`;
  if (code && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.includes('SIGNATURE')))
    return `the operator's certificate is not trusted (${code})`;
  return error instanceof Error ? error.message : String(error);
}
